/**
 * l2o's version, as package.json gives it: imported as JSON, so that it reaches a browser
 * bundle too (no file is read at run time).
 */
import pkg from "../../package.json" with { type: "json" };

/** l2o's version (package.json's `version`). */
export const L2O_VERSION: string = typeof pkg.version === "string" ? pkg.version : "0.0.0";
