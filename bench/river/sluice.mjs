/**
 * The Sluice side of `npm run bench -- learning`, the counterpart of compare.py with the same
 * arguments and output (bench/learning.ts runs both):
 *
 *   node sluice.mjs DATASET.csv 'MODEL_CONFIG_JSON'
 *
 * Plain JavaScript run by plain `node` on the compiled build (dist/), as the server runs: under tsx,
 * esbuild's keepNames wraps every inner function in a `__name` call, which costs the hashing path
 * about 15% and is not what production executes.
 *
 * The timed loop, per example: PrequentialEvaluator.testThenTrain (predict, metric update, learn).
 * Reading the CSV, building the learner and the untimed warm-up pass over the first `warmup`
 * examples (a fresh learner; the JIT then runs warm, as in a long-lived server) are not timed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

const dist = join(import.meta.dirname, "..", "..", "dist", "src", "learning");
const { createLearner } = await import(join(dist, "learners.js"));
const { PrequentialEvaluator } = await import(join(dist, "prequential.js"));

/** The CSV's rows as feature objects and labels (the columns the config names; no quoting). */
function readExamples(path, config) {
  const [header = "", ...rows] = readFileSync(path, "utf8").trimEnd().split(/\r?\n/);
  const column = new Map(header.split(",").map((name, i) => [name, i]));
  const xs = [];
  const ys = [];
  for (const row of rows) {
    const cells = row.split(",");
    const x = {};
    for (const name of config.numeric) x[name] = Number(cells[column.get(name)]);
    for (const name of config.categorical) if (cells[column.get(name)] !== "") x[name] = cells[column.get(name)];
    xs.push(x);
    ys.push(Number(cells[column.get(config.label)]));
  }
  return { xs, ys };
}

/** One test-then-train pass of a fresh learner over the first `limit` examples; seconds and metrics. */
function run({ xs, ys }, config, limit) {
  const learner = createLearner({
    kind: config.task === "binary" ? "logistic" : "linear",
    features: { numeric: config.numeric, categorical: config.categorical, buckets: config.buckets },
    optimizer: config.optimizer,
    interceptLearningRate: config.interceptLearningRate,
  });
  const evaluator = new PrequentialEvaluator(config.task === "binary" ? "binary" : "regression");
  const started = performance.now();
  for (let i = 0; i < limit; i++) evaluator.testThenTrain(learner, xs[i], ys[i]);
  return { seconds: (performance.now() - started) / 1000, metrics: evaluator.cumulative() };
}

const [path, configJson] = process.argv.slice(2);
const config = JSON.parse(configJson);
const examples = readExamples(path, config);
const n = examples.xs.length;
if (config.warmup) run(examples, config, Math.min(n, config.warmup));
const runs = [];
let metrics = {};
for (let r = 0; r < (config.repeats ?? 1); r++) {
  const result = run(examples, config, n);
  runs.push({ seconds: result.seconds, examplesPerSecond: n / result.seconds });
  metrics = result.metrics;
}
process.stdout.write(`${JSON.stringify({ node: process.version, examples: n, runs, metrics })}\n`);
