import { type Logger, pino } from "pino";
import type { SluiceConfig } from "../config/config.js";

/** The root logger: one JSON object per line on stdout, with the service name on every line. */
export function createLogger(level: SluiceConfig["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "sluice" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
