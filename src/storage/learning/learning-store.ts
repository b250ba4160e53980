/**
 * The learning store port: what online learners need to be exactly-once and to run behind several
 * replicas. Per learner (a key "project/learner"):
 * - an append-only **example log**: entries numbered 1, 2, … in append order, each append atomic;
 *   a conditional append also moves a source cursor (a Kafka partition's next offset, a write id)
 *   from an expected value in the same step, so a source's messages are appended once;
 * - **checkpoints** in named slots ("latest", "published/3"), each write atomic, fenced by the lease;
 * - a **lease**: the one replica that learns.
 * Backends: LMDB (embedded) and Redis (several replicas); learning-store.contract.ts holds them to
 * the same behaviour.
 */

/** One entry of an example log. */
export interface LogEntry {
  /** 1 for the first entry, +1 for each after it. */
  position: number;
  value: Uint8Array;
}

/** A source position moved with the entries it produced (e.g. "kafka:topic/3" → next offset). */
export interface CursorMove {
  name: string;
  /** The cursor's value the append expects; undefined: the cursor must not exist yet. */
  expected: string | undefined;
  value: string;
}

/** What {@link LearningStore.acquireLease} did. */
export type LeaseOutcome = "taken" | "extended" | "refused";

/** Where learners keep their example logs, checkpoints and leases. */
export interface LearningStore {
  /** The backend's name, for logs and errors. */
  readonly backend: string;
  /** Appends entries to a learner's log in one atomic step; returns the last position (unchanged for no entries). */
  append(learner: string, entries: readonly Uint8Array[]): Promise<number>;
  /**
   * Appends entries and moves a cursor, in one atomic step, only if the cursor still has its
   * expected value; returns the last position, or undefined (nothing written) when it had moved.
   */
  appendMovingCursor(learner: string, entries: readonly Uint8Array[], cursor: CursorMove): Promise<number | undefined>;
  /** Entries after `after` (0: from the first), in order, at most `limit`. */
  read(learner: string, after: number, limit: number): Promise<LogEntry[]>;
  /** The position of the last entry (0: none). */
  lastPosition(learner: string): Promise<number>;
  /**
   * Deletes the entries at and before `through` (positions never move: later entries keep theirs);
   * returns how many were deleted. Reading from before the first kept entry then starts there.
   */
  trim(learner: string, through: number): Promise<number>;
  /** A cursor written by {@link appendMovingCursor}, if any. */
  cursor(learner: string, name: string): Promise<string | undefined>;
  /**
   * Writes a checkpoint slot atomically. With `holder`, only while `holder` holds the learner's
   * lease: false (nothing written) otherwise, so a replica that lost its lease cannot overwrite
   * the new leader's state.
   */
  putCheckpoint(learner: string, slot: string, bytes: Uint8Array, holder?: string): Promise<boolean>;
  /** A checkpoint slot's bytes, if written. */
  getCheckpoint(learner: string, slot: string): Promise<Uint8Array | undefined>;
  /**
   * Takes the learner's lease for `ttlMs` when no lease is live ("taken": whoever held it before,
   * this holder included, may have moved the learner on meanwhile), or extends it when `holder`
   * holds the live lease ("extended"); "refused" when another holder's lease is live.
   */
  acquireLease(learner: string, holder: string, ttlMs: number): Promise<LeaseOutcome>;
  /** Gives the lease up if `holder` holds it. */
  releaseLease(learner: string, holder: string): Promise<void>;
  /** The live lease's holder, if any. */
  leaseHolder(learner: string): Promise<string | undefined>;
  close(): Promise<void>;
}
