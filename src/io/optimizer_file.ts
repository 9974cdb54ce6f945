/**
 * Trained optimizer files on disk: saving (atomically) and loading (header first, within
 * `OPTIMIZER_FILE_LIMITS`). The format, and encoding and decoding in memory, are in
 * `optimizer_bytes.ts`, re-exported here.
 */
import { encodeWithMeta, optimizerFileFromContents, OPTIMIZER_FILE_ADVICE, OPTIMIZER_FILE_LIMITS, type OptimizerFile, type OptimizerFileInput, type OptimizerMeta } from "./optimizer_bytes.ts";
import { writeFileAtomic } from "./files.ts";
import { readSafetensorsFile } from "./safetensors_file.ts";

export * from "./optimizer_bytes.ts";

/**
 * Saves a trained optimizer to `path` (one `.safetensors` file), atomically, creating
 * parent directories. Returns the metadata as written.
 */
export function saveOptimizerFile(path: string, input: OptimizerFileInput): OptimizerMeta {
  const { bytes, meta } = encodeWithMeta(input);
  writeFileAtomic(path, bytes);
  return meta;
}

/**
 * Loads an optimizer file, reading its header before its body within `OPTIMIZER_FILE_LIMITS`.
 * A missing path, or one that is not a regular file (a directory, a device, a FIFO), throws
 * `MissingFileError`; a file too large, damaged (hashes included), of another kind, or from a
 * newer l2o throws `FileFormatError`. Both name the path and the problem on one line.
 */
export function loadOptimizerFile(path: string): OptimizerFile {
  const contents = readSafetensorsFile(path, {
    what: "optimizer file",
    hint: "Check the path, or meta-train an optimizer to create it.",
    advice: OPTIMIZER_FILE_ADVICE,
    maxFileBytes: OPTIMIZER_FILE_LIMITS.fileBytes,
    maxHeaderBytes: OPTIMIZER_FILE_LIMITS.headerBytes,
  });
  return optimizerFileFromContents(contents, path);
}
