/** Errors the learning core raises on purpose; each condition is its own class carrying its fields. */
import { SluiceError } from "../common/errors.js";

/** An example (features or label) the learner refuses: non-finite number, wrong type, unknown class. */
export class InvalidExampleError extends SluiceError {
  readonly field: string;

  constructor(field: string, description: string) {
    super("invalid_argument", "INVALID_EXAMPLE", `invalid example: ${field}: ${description}`, { field });
    this.field = field;
  }
}

/** A learner, optimizer or feature specification that cannot work (zero buckets, negative rate, …). */
export class InvalidLearnerSpecError extends SluiceError {
  readonly field: string;

  constructor(field: string, description: string) {
    super("invalid_argument", "INVALID_LEARNER_SPEC", `invalid learner spec: ${field}: ${description}`, { field });
    this.field = field;
  }
}

/** Checkpoint bytes that are truncated, of an unknown format version, or of another learner kind. */
export class InvalidCheckpointError extends SluiceError {
  constructor(description: string) {
    super("invalid_argument", "INVALID_CHECKPOINT", `invalid learner checkpoint: ${description}`);
  }
}

/** A learner that has diverged refuses to learn further; restore a checkpoint or start anew. */
export class LearnerDivergedError extends SluiceError {
  constructor(reason: string, atExample: number) {
    super("failed_precondition", "LEARNER_DIVERGED", `the learner diverged at example ${atExample} (${reason}); it learns no further`, {
      atExample: String(atExample),
    });
  }
}
