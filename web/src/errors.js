// The error classes of the browser check, as circuits/errors.py: the class says *why* a check failed.
//
//   FormatError        the bytes do not parse (malformed)
//   VerificationError  well formed, but the proof or statement is false
//   ParameterError     public parameters are unsupported or inconsistent
//
// Where the failure is travels in fields (section, file, field), never in the message, exactly as
// ProofError's; each is null when unknown. `kind` is the brief's name of the class ("format",
// "verification", "parameter"); `failure` is Python's FailureKind ("malformed", "false", "input") as
// reports and JSON show it. `report` is the partial report a check attaches before it re-throws.

/** The base of every error the check throws (circuits.errors.ProofError). */
export class ZkError extends Error {
  /**
   * @param {string} message
   * @param {{section?: string|null, file?: string|null, field?: string|null}} [where]
   */
  constructor(message = '', { section = null, file = null, field = null } = {}) {
    super(message);
    this.name = new.target.name;
    this.section = section ?? null;
    this.file = file ?? null;
    this.field = field ?? null;
    this.report = null;
  }

  /** The class's kind: "format", "verification" or "parameter" (null for a plain ZkError). */
  get kind() {
    return null;
  }

  /** Python's FailureKind of the class: "malformed", "false" or "input" (null for a plain ZkError). */
  get failure() {
    return null;
  }
}

/** Raised when bytes do not parse: a wrong length, a non-canonical scalar or point, trailing bytes. */
export class FormatError extends ZkError {
  get kind() {
    return 'format';
  }

  get failure() {
    return 'malformed';
  }
}

/** Raised when well-formed input fails a check (also identity points and zero challenges). */
export class VerificationError extends ZkError {
  get kind() {
    return 'verification';
  }

  get failure() {
    return 'false';
  }
}

/** Raised when public parameters are unsupported or inconsistent (a bit size, an aggregation size). */
export class ParameterError extends ZkError {
  get kind() {
    return 'parameter';
  }

  get failure() {
    return 'input';
  }
}

/**
 * Return `exc` with the fields of `where` filled in where it has none (the caller knows the section).
 * @template {ZkError} E
 * @param {E} exc
 * @param {{section?: string|null, file?: string|null, field?: string|null}} where
 * @returns {E}
 */
export function locate(exc, where = {}) {
  if (exc instanceof ZkError) {
    if (exc.section === null && where.section != null) exc.section = where.section;
    if (exc.file === null && where.file != null) exc.file = where.file;
    if (exc.field === null && where.field != null) exc.field = where.field;
  }
  return exc;
}
