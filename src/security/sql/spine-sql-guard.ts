/**
 * Confines a client's spine SQL before it runs: ClickHouse parses it (as one statement, or not
 * at all), and the parse is checked against the policy of {@link spineSqlProblems}. The text
 * that runs afterwards is ClickHouse's canonical form of the statement, the very text whose
 * parse was checked, so no difference between two parsers can slip anything past the check.
 */
import { ValidationError } from "../../common/errors.js";
import {
  AstDumpError,
  functionNamesIn,
  isSelect,
  parseAstDump,
  quotedIdentifierProblem,
  type SpineSqlCatalog,
  spineSqlProblems,
} from "./spine-sql-check.js";

/** What confining needs from the engine; every call is parse-only or reads the catalog. */
export interface SpineSqlEngine {
  /**
   * ClickHouse's canonical text of one statement (`formatQuery`, given the SQL as a bound
   * parameter); fails on a syntax error or on more than one statement.
   */
  formatQuery(sql: string): Promise<string>;
  /** The `EXPLAIN AST` dump of one canonical statement. */
  explainAst(statement: string): Promise<string>;
  /** The catalog facts the check needs, for the (lower-case) function names a query calls. */
  catalog(functionNames: string[]): Promise<Omit<SpineSqlCatalog, "project" | "projectDatabase">>;
}

/**
 * The canonical text of a client's spine query, safe to run as a subquery; INVALID_ARGUMENT
 * (`INVALID_SPINE_QUERY` when it is not one SELECT, `SPINE_SQL_NOT_ALLOWED` when it reaches
 * outside its project) with one violation of `field` per problem. Engine errors (a syntax error)
 * are thrown as they come, for the caller to classify.
 */
export async function confineSpineSql(
  engine: SpineSqlEngine,
  sql: string,
  project: string,
  projectDatabase: string,
  field: string,
): Promise<string> {
  const refuse = (reason: string, descriptions: string[]) =>
    new ValidationError(
      reason,
      descriptions.map((description) => ({ field, description })),
    );
  let canonical: string;
  try {
    canonical = (await engine.formatQuery(sql)).trim();
  } catch (error) {
    // The engine's own parser counts statements; its message is the one sign of that outcome.
    if (/Multi-statements are not allowed/i.test(error instanceof Error ? error.message : String(error))) {
      throw refuse("INVALID_SPINE_QUERY", ["must be a single statement"]);
    }
    throw error;
  }
  const quoting = quotedIdentifierProblem(canonical);
  if (quoting) throw refuse("SPINE_SQL_NOT_ALLOWED", [quoting]);
  let root: ReturnType<typeof parseAstDump>;
  try {
    root = parseAstDump(await engine.explainAst(canonical));
  } catch (error) {
    if (error instanceof AstDumpError) throw refuse("SPINE_SQL_NOT_ALLOWED", ["could not be checked; simplify the names it uses"]);
    throw error;
  }
  if (!isSelect(root)) throw refuse("INVALID_SPINE_QUERY", ["must be a SELECT (or WITH ... SELECT) statement"]);
  const catalog = await engine.catalog(functionNamesIn(root));
  const problems = spineSqlProblems(root, { ...catalog, project, projectDatabase });
  if (problems.length > 0) throw refuse("SPINE_SQL_NOT_ALLOWED", problems);
  return canonical;
}
