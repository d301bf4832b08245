// The browser customer check's entry point (the contract between web/src and web/page/page.js).
//
// checkPackage({packageBytes, files, pinDigest, pinCustomer, packageName}) runs the customer check of
// docs/FORMAT.md §8 as `solvency check` does and returns a PackageReport (web/src/verdict.js): `status`
// ("pass" | "partial"), `claims` ([{key, asset, text, proven, backedBy}], in the order `solvency check`
// prints them: every proven sentence, then every not-proven one, by `proven` / `notProven`), and
// `toJSON()`, the `solvency check --json` verdict. A failure throws FormatError (malformed),
// VerificationError (false) or ParameterError (unsupported input), with `section`, `file`, `field`,
// `kind` and the partial report as `error.report` (status "fail").

export { checkPackage } from './check.js';
export { FormatError, ParameterError, VerificationError, ZkError } from './errors.js';
export { PackageReport } from './verdict.js';
