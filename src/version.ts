/** Pylon's release version, reported by `PYLON INFO`. */
export const VERSION = "0.1.0";
