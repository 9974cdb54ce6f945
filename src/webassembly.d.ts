/**
 * The parts of WebAssembly's JavaScript API that l2o uses. The global exists in every Node
 * release l2o supports; TypeScript declares it only in the DOM library, which l2o does not
 * load.
 */
declare namespace WebAssembly {
  interface Module {}
  interface Memory {
    /** A SharedArrayBuffer for a memory made with `shared: true`. */
    readonly buffer: ArrayBuffer | SharedArrayBuffer;
    /** Adds `pages` pages of 64 KiB; throws a RangeError past the maximum. */
    grow(pages: number): number;
  }
  interface Instance {
    readonly exports: Record<string, unknown>;
  }
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WebAssembly.Module;
  validate(bytes: Uint8Array): boolean;
  Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => WebAssembly.Memory;
  Instance: new (m: WebAssembly.Module, imports: Record<string, Record<string, unknown>>) => WebAssembly.Instance;
};
