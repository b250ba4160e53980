/**
 * Runs every learner on this replica. Per learner, one replica holds a lease in the learning
 * store and learns: it reads the example log from its checkpointed position, applies entries in
 * short synchronous slices (a prediction runs between two examples, never during one, and
 * learning never holds the event loop for long), and checkpoints every N examples or T seconds,
 * fenced by the lease. Every other replica is a standby: it serves the learner's latest
 * checkpoint, refreshed every second or so, and takes the lease over when it lapses (the holder
 * died or lost the store). A restart, anywhere, resumes from the latest checkpoint and re-reads
 * the log after its position, so each entry affects the state exactly once (docs/learning.md).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { unpack } from "msgpackr";
import type { Logger } from "pino";
import { PreconditionError, ResourceNotFoundError } from "../common/errors.js";
import { resourceName } from "../registry/names.js";
import type { Tensor } from "../serving/tensors.js";
import type { LearningStore } from "../storage/learning/learning-store.js";
import type { RegistryStore } from "../storage/registry/registry-store.js";
import { decodeLogRecord } from "./example-log.js";
import type { LearnerDefinitions } from "./learner-definitions.js";
import { decodeLiveState, encodeLiveState, LiveLearner } from "./live-learner.js";
import type { LearnerControl, LearnerDefinition, LearnerStatus } from "./model.js";

/** How learners run on this replica (config `learning.*`). */
export interface LearnerRuntimeOptions {
  /** Names this replica in leases and status. */
  replicaId: string;
  /** A lease lasts this long unless renewed (every third of it). */
  leaseTtlMs: number;
  /** Log entries read per store round trip. */
  readBatch: number;
  /** Longest stretch of learning between two turns of the event loop. */
  sliceMs: number;
  /** How often an idle leader looks for new entries (appends on this replica wake it at once). */
  pollMs: number;
  /** How often a standby reloads the latest checkpoint. */
  standbyRefreshMs: number;
  /** Log entries kept behind the latest checkpoint; older ones are deleted after each checkpoint. */
  logRetentionEntries: number;
}

/** The checkpoint slot a learner resumes from. */
const LATEST = "latest";

/** The checkpoint slot of a published version, which RestoreLearner takes back. */
export function publishedSlot(version: number): string {
  return `published/${version}`;
}

/** Counts what learners do, for metrics. */
export interface LearnerObserver {
  applied(learner: string, outcome: "learned" | "unmatched" | "refused" | "diverged", count: number): void;
  checkpointed(learner: string, bytes: number, ms: number): void;
}

/** Every learner of this replica. */
export class LearnerRuntime {
  private readonly workers = new Map<string, Promise<LearnerWorker>>();
  private unsubscribe: () => void = () => undefined;
  private closed = false;

  constructor(
    private readonly store: LearningStore,
    private readonly definitions: LearnerDefinitions,
    private readonly registry: RegistryStore,
    private readonly observer: LearnerObserver,
    private readonly logger: Logger,
    private readonly options: LearnerRuntimeOptions,
  ) {}

  /** Starts a worker for every learner there is, and for each one created later (on any replica). */
  async start(): Promise<void> {
    this.unsubscribe = this.registry.onChange((change) => {
      if (change.kind === "document" && (change.name.startsWith("learner/") || change.name.startsWith("learnerControl/"))) {
        const name = change.name.slice(change.name.indexOf("/") + 1);
        void this.worker(change.project, name)
          .then((worker) => worker.controlChanged())
          .catch((error: unknown) =>
            this.logger.warn({ err: error, learner: `${change.project}/${name}` }, "could not follow a learner change"),
          );
      }
    });
    // One learner that cannot start (a corrupt checkpoint, a store blip) must not keep the server
    // from serving the others: it is logged, and started again on its next use (a label, a read).
    for (const definition of await this.definitions.all()) {
      await this.worker(definition.project, definition.name).catch((error: unknown) =>
        this.logger.error(
          { err: error, learner: `${definition.project}/${definition.name}` },
          "learner could not start; it is retried on its next use",
        ),
      );
    }
  }

  /** The worker of a learner, started on first use; NOT_FOUND for an unknown learner. */
  worker(project: string, name: string): Promise<LearnerWorker> {
    const key = `${project}/${name}`;
    let worker = this.workers.get(key);
    if (!worker) {
      if (this.closed) return Promise.reject(new PreconditionError("SHUTTING_DOWN", "the server is shutting down"));
      worker = this.definitions.get(project, name).then(async (definition) => {
        const started = new LearnerWorker(
          definition,
          this.store,
          this.definitions,
          this.observer,
          this.logger.child({ learner: key }),
          this.options,
        );
        await started.start();
        return started;
      });
      this.workers.set(key, worker);
      worker.catch(() => this.workers.get(key) === worker && this.workers.delete(key));
    }
    return worker;
  }

  /** Wakes a learner's leader after entries were appended on this replica (starting its worker if it is not running). */
  appended(project: string, name: string): void {
    this.worker(project, name).then(
      (worker) => worker.wake(),
      (error: unknown) => this.logger.warn({ err: error, learner: `${project}/${name}` }, "learner could not start after an append"),
    );
  }

  /** Statuses of the learners running here, for metrics. */
  async statuses(): Promise<Array<{ definition: LearnerDefinition; status: LearnerStatus }>> {
    const workers = await Promise.all([...this.workers.values()].map((w) => w.catch(() => undefined)));
    const running = workers.filter((w): w is LearnerWorker => w !== undefined);
    // A learner whose status cannot be read (the store is down) is left out, not the whole scrape.
    const statuses = await Promise.all(
      running.map((w) =>
        w.status().then(
          (status) => ({ definition: w.definition, status }),
          () => undefined,
        ),
      ),
    );
    return statuses.filter((s) => s !== undefined);
  }

  /** Stops every worker: leaders checkpoint and give their leases up. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    const workers = await Promise.all([...this.workers.values()].map((w) => w.catch(() => undefined)));
    await Promise.all(workers.map((w) => w?.stop()));
  }
}

/** One learner on this replica: its live state, and whether this replica learns it. */
export class LearnerWorker {
  private state: LiveLearner;
  private role: "leader" | "standby" = "standby";
  private control: LearnerControl = { paused: false, reason: "" };
  /** Until when (local clock, ms) the lease is surely ours: a third of the TTL short of its end. */
  private leaseSafeUntil = 0;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();
  private leaseTimer: NodeJS.Timeout | undefined;
  private lastCheckpointAt = Date.now();
  /** The log position of the last checkpoint written or loaded (undefined before either). */
  private checkpointedPosition: number | undefined;
  private readonly key: string;
  /** Serialises everything that changes the state or the role: learning slices, checkpoints, reloads, promotions, restores. */
  private busy: Promise<unknown> = Promise.resolve();

  constructor(
    readonly definition: LearnerDefinition,
    private readonly store: LearningStore,
    private readonly definitions: LearnerDefinitions,
    private readonly observer: LearnerObserver,
    private readonly logger: Logger,
    private readonly options: LearnerRuntimeOptions,
  ) {
    this.key = `${definition.project}/${definition.name}`;
    this.state = new LiveLearner(definition);
  }

  async start(): Promise<void> {
    this.control = await this.definitions.control(this.definition.project, this.definition.name);
    await this.reload();
    await this.renewLease();
    this.leaseTimer = setInterval(() => void this.renewLease(), Math.max(50, Math.floor(this.options.leaseTtlMs / 3)));
    this.leaseTimer.unref();
    this.loop = this.run();
  }

  /** Predicts with the current state in one synchronous pass (see {@link LiveLearner.predict}). */
  predict(inputs: Record<string, Tensor>, rows: number): Record<string, Tensor> {
    return this.state.predict(inputs, rows);
  }

  /** Wakes the learning loop (entries were appended). */
  wake(): void {
    this.wakeUp?.();
  }

  /** Re-reads the control state and acts on it (pause, resume, restore). */
  async controlChanged(): Promise<void> {
    this.control = await this.definitions.control(this.definition.project, this.definition.name);
    // Decided inside the queue: a promotion, demotion or restore queued before may change the answer.
    await this.exclusive(async () => {
      const restore = this.control.restore;
      if (this.role !== "leader") return;
      if (restore && restore.generation > this.state.restoreGeneration) await this.applyRestore(restore.version, restore.generation);
      // A paused learner keeps what it learned: the next leader starts from here, not from an older checkpoint.
      else if (this.control.paused && this.state.position !== this.checkpointedPosition) await this.checkpoint();
    });
    this.wake();
  }

  /** The status as this replica sees it. */
  async status(): Promise<LearnerStatus> {
    const state = this.state;
    const [last, leader] = await Promise.all([this.store.lastPosition(this.key), this.store.leaseHolder(this.key)]);
    const health = state.learner.health();
    const phase =
      health.status === "diverged" ? "diverged" : this.role === "standby" ? "standby" : this.control.paused ? "paused" : "learning";
    const reason = health.status === "diverged" ? health.reason : this.control.paused ? this.control.reason : "";
    return {
      state: phase,
      reason,
      examplesLearned: state.learner.examples,
      entriesConsumed: state.position,
      unmatchedLabels: state.unmatchedLabels,
      refusedExamples: state.refusedExamples,
      logPosition: state.position,
      lag: Math.max(0, last - state.position),
      cumulative: state.evaluator.cumulative(),
      rolling: state.evaluator.rolling(),
      windows: state.windows.metrics(),
      lastCheckpointTime: state.checkpointTime,
      lastCheckpointExamples: state.checkpointExamples,
      leader: leader ?? "",
      watermark: state.watermark,
    };
  }

  /**
   * Runs `use` on the state to publish, with nothing learned in between: on the leader the state is
   * checkpointed first, so a published version is always a durable checkpoint; on a standby it is
   * the latest checkpoint it serves.
   */
  snapshot<T>(use: (state: LiveLearner) => T): Promise<T> {
    return this.exclusive(async () => {
      if (this.role === "leader") await this.checkpoint();
      return use(this.state);
    });
  }

  /** Stops learning; a leader checkpoints and gives its lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.leaseTimer);
    this.wake();
    await this.loop;
    if (this.role === "leader") {
      await this.exclusive(() => this.checkpoint()).catch((error: unknown) => this.logger.warn({ err: error }, "final checkpoint failed"));
      await this.store.releaseLease(this.key, this.options.replicaId).catch(() => undefined);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (this.canLearn()) {
          const entries = await this.store.read(this.key, this.state.position, this.options.readBatch);
          if (entries.length > 0) {
            await this.exclusive(() => this.learn(entries));
            await this.exclusive(() => this.checkpointIfDue());
            continue;
          }
          await this.exclusive(() => this.checkpointIfDue());
        } else if (this.role === "standby") {
          await this.exclusive(() => this.reload());
        }
      } catch (error) {
        this.logger.error({ err: error }, "learner loop failed; retrying");
      }
      await this.idle(this.role === "standby" ? this.options.standbyRefreshMs : this.options.pollMs);
    }
  }

  private canLearn(): boolean {
    return this.role === "leader" && !this.control.paused && !this.state.diverged && Date.now() < this.leaseSafeUntil;
  }

  /** Applies entries in slices of at most `sliceMs`, yielding to serving between slices. */
  private async learn(entries: ReadonlyArray<{ position: number; value: Uint8Array }>): Promise<void> {
    const counts = { learned: 0, unmatched: 0, refused: 0, diverged: 0 };
    let sliceStart = performance.now();
    for (const entry of entries) {
      if (!this.canLearn() || entry.position !== this.state.position + 1) break;
      const outcome = this.state.apply(entry.position, decodeLogRecord(entry.value));
      counts[outcome]++;
      if (outcome === "diverged") {
        const health = this.state.learner.health();
        this.logger.error(
          { reason: health.status === "diverged" ? health.reason : "", position: entry.position },
          "learner diverged: learning stopped, Predict refused until restored",
        );
        await this.checkpoint();
        break;
      }
      if (performance.now() - sliceStart >= this.options.sliceMs) {
        await new Promise((resolve) => setImmediate(resolve));
        sliceStart = performance.now();
      }
    }
    for (const [outcome, count] of Object.entries(counts)) {
      if (count > 0) this.observer.applied(this.key, outcome as keyof typeof counts, count);
    }
  }

  private async checkpointIfDue(): Promise<void> {
    const { everyExamples, everySeconds } = this.definition.checkpoint;
    const pending = this.state.position - (this.checkpointedPosition ?? 0);
    if (pending === 0) return;
    const byCount = everyExamples > 0 && pending >= everyExamples;
    const byTime = everySeconds > 0 && Date.now() - this.lastCheckpointAt >= everySeconds * 1000;
    if (byCount || byTime) await this.checkpoint();
  }

  /** Writes the state to the "latest" slot, fenced by the lease; losing it there makes this replica a standby. */
  private async checkpoint(): Promise<void> {
    const started = performance.now();
    this.state.checkpointTime = Date.now();
    this.state.checkpointExamples = this.state.learner.examples;
    const bytes = encodeLiveState(this.state);
    if (!(await this.store.putCheckpoint(this.key, LATEST, bytes, this.options.replicaId))) {
      this.logger.warn("lease lost before a checkpoint could be written; becoming a standby");
      await this.demote();
      return;
    }
    this.lastCheckpointAt = Date.now();
    this.checkpointedPosition = this.state.position;
    this.observer.checkpointed(this.key, bytes.byteLength, performance.now() - started);
    // Nothing at or before a checkpoint is read again (a new leader resumes after it): what is
    // older than the retention behind it can go. A failed trim is retried at the next checkpoint.
    const through = this.state.position - this.options.logRetentionEntries;
    if (through > 0)
      await this.store
        .trim(this.key, through)
        .catch((error: unknown) => this.logger.warn({ err: error }, "could not trim the example log"));
  }

  /** Loads the latest checkpoint when it is newer than the state held (or the held state is ahead of it, unsaved). */
  private async reload(): Promise<void> {
    const bytes = await this.store.getCheckpoint(this.key, LATEST);
    if (!bytes) {
      if (this.state.position !== 0) this.state = new LiveLearner(this.definition);
      this.checkpointedPosition = 0;
      return;
    }
    const head = unpack(bytes) as { position: number; checkpointTime: number; restoreGeneration: number };
    const same =
      head.position === this.state.position &&
      head.checkpointTime === this.state.checkpointTime &&
      head.restoreGeneration === this.state.restoreGeneration;
    if (!same) this.state = decodeLiveState(this.definition, bytes);
    this.checkpointedPosition = this.state.position;
  }

  /** Runs on a timer: never throws (a rejection there would end the process). */
  private async renewLease(): Promise<void> {
    if (this.stopped) return;
    const asked = Date.now();
    try {
      const outcome = await this.store.acquireLease(this.key, this.options.replicaId, this.options.leaseTtlMs);
      if (outcome === "refused") {
        await this.exclusive(() => this.demote());
        return;
      }
      this.leaseSafeUntil = asked + Math.floor((this.options.leaseTtlMs * 2) / 3);
      // Taken anew (not extended): another replica may have led meanwhile, even if this one led before.
      if (outcome === "taken" || this.role === "standby") await this.exclusive(() => this.promote());
    } catch (error) {
      this.logger.warn({ err: error }, "could not renew the learner's lease");
      if (Date.now() >= this.leaseSafeUntil) {
        await this.exclusive(() => this.demote()).catch((demoting: unknown) =>
          this.logger.warn(
            { err: demoting },
            "lease lapsed and the latest checkpoint could not be read: learning stopped, serving what it holds",
          ),
        );
      }
    }
  }

  /** Takes the lead: resumes from the latest checkpoint (another leader may have moved it on). */
  private async promote(): Promise<void> {
    await this.reload();
    this.role = "leader";
    this.lastCheckpointAt = Date.now();
    this.logger.info(
      { position: this.state.position, examples: this.state.learner.examples },
      "learner lease taken: learning from the checkpoint",
    );
    const restore = this.control.restore;
    if (restore && restore.generation > this.state.restoreGeneration) await this.applyRestore(restore.version, restore.generation);
    this.wake();
  }

  /** Stops learning and serves the latest checkpoint: what was learned since it is the new leader's to learn again. */
  private async demote(): Promise<void> {
    this.leaseSafeUntil = 0;
    if (this.role === "standby") return;
    this.role = "standby";
    await this.reload();
    this.logger.warn({ position: this.state.position }, "learner lease lost: serving the latest checkpoint as a standby");
  }

  /** Puts the model of a published version's checkpoint in place, keeping the log position, and checkpoints. */
  private async applyRestore(version: number, generation: number): Promise<void> {
    const bytes = await this.store.getCheckpoint(this.key, publishedSlot(version));
    if (!bytes) {
      this.logger.error({ version }, "restore asked for a version whose checkpoint is missing; ignored");
      this.state.restoreGeneration = generation;
      return;
    }
    this.state.restoreModelFrom(decodeLiveState(this.definition, bytes), generation);
    await this.checkpoint();
    this.logger.warn({ version, position: this.state.position }, "learner restored from a published version's checkpoint");
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.busy.then(work, work);
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async idle(ms: number): Promise<void> {
    const controller = new AbortController();
    this.wakeUp = () => controller.abort();
    await sleep(ms, undefined, { signal: controller.signal }).catch(() => undefined);
    this.wakeUp = undefined;
  }
}

/** NOT_FOUND for a learner name that names none. */
export function learnerNotFound(project: string, name: string): ResourceNotFoundError {
  return new ResourceNotFoundError("learner", resourceName(project, "learners", name));
}
