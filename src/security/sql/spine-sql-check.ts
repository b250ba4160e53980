/**
 * The policy of a client's spine SQL, checked on ClickHouse's own parse of it: the dump of
 * `EXPLAIN AST` (an indented tree, one node per line) is read back into a tree and walked. What
 * a spine query may do:
 *
 * - be one SELECT (WITH, UNION, INTERSECT and EXCEPT included), with no SETTINGS, FORMAT or
 *   INTO OUTFILE anywhere;
 * - read the tables of its own project's database (`sluice_{project}.table`), CTEs and subqueries,
 *   and the table functions of {@link ALLOWED_TABLE_FUNCTIONS}, which make rows from their
 *   arguments alone;
 * - call any function except those of {@link DENIED_FUNCTIONS} (and their prefixes and aliases),
 *   which read outside the query (files, dictionaries, Join tables, settings, the host) or hold
 *   the engine (sleep), and except user-defined functions.
 *
 * The dump prints names as they are, so a name holding a line break could forge lines; such
 * names are refused before the dump is read ({@link quotedIdentifierProblem}), and every line's
 * indentation and child count must agree, so the tree read back is the tree ClickHouse parsed.
 */

/** One node of an `EXPLAIN AST` dump: `Function file (alias f) (children 1)`. */
export interface AstNode {
  /** The node type: SelectQuery, Function, TableIdentifier, ... */
  label: string;
  /** What follows the type, without the alias: a function's or identifier's name, a literal. */
  name: string;
  /** The whole text after the type, alias included. */
  text: string;
  alias?: string;
  children: AstNode[];
}

/** A dump that is not a well-formed tree. */
export class AstDumpError extends Error {}

/**
 * Reads an `EXPLAIN AST` dump. Each line is `{depth spaces}{type}[ {text}][ (children N)]`; a
 * node's children follow it one space deeper, and each node must have exactly the children its
 * line declares: anything else is an {@link AstDumpError}.
 */
export function parseAstDump(dump: string): AstNode {
  const lines = dump.replace(/\n+$/, "").split("\n");
  const roots: AstNode[] = [];
  const declared = new Map<AstNode, number>();
  const path: AstNode[] = [];
  for (const [index, line] of lines.entries()) {
    const depth = line.length - line.trimStart().length;
    const counted = /^(.*) \(children (\d+)\)$/.exec(line.slice(depth));
    const body = counted?.[1] ?? line.slice(depth);
    const space = body.indexOf(" ");
    const label = space < 0 ? body : body.slice(0, space);
    const text = space < 0 ? "" : body.slice(space + 1);
    if (!/^[A-Za-z][A-Za-z0-9_]*(::[A-Za-z][A-Za-z0-9_]*)?$/.test(label) || line.slice(0, depth) !== " ".repeat(depth)) {
      throw new AstDumpError(`line ${index + 1} is not a node`);
    }
    if (depth > path.length) throw new AstDumpError(`line ${index + 1} is deeper than its parent`);
    const aliased = /^(.*) \(alias (.*)\)$/.exec(text);
    const node: AstNode = { label, name: aliased?.[1] ?? text, text, children: [] };
    if (aliased?.[2] !== undefined) node.alias = aliased[2];
    declared.set(node, Number(counted?.[2] ?? 0));
    path.length = depth;
    const parent = path[depth - 1];
    if (parent) parent.children.push(node);
    else roots.push(node);
    path.push(node);
  }
  const [root] = roots;
  if (!root || roots.length !== 1) throw new AstDumpError("the dump has no single root");
  for (const [node, count] of declared) {
    if (node.children.length !== count) throw new AstDumpError(`${node.label} declares ${count} children and has ${node.children.length}`);
  }
  return root;
}

/**
 * Why canonical SQL (ClickHouse's `formatQuery` output, in which identifiers that need quoting
 * are back-quoted and escaped) cannot be checked on its AST dump, or undefined when it can: a
 * quoted name with an escape sequence or a control character would print as more than one line.
 */
export function quotedIdentifierProblem(canonicalSql: string): string | undefined {
  let quote: string | undefined;
  for (let i = 0; i < canonicalSql.length; i++) {
    const char = canonicalSql[i] as string;
    if (quote === undefined) {
      if (char === "'" || char === "`" || char === '"') quote = char;
      continue;
    }
    if (char === "\\") {
      if (quote !== "'") return "a quoted name holds an escape sequence; name columns and tables with printable characters only";
      i++;
    } else if (char === quote) {
      if (canonicalSql[i + 1] === quote) i++;
      else quote = undefined;
    } else if (quote !== "'" && (char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)) {
      return "a quoted name holds a control character; name columns and tables with printable characters only";
    }
  }
  return quote === undefined ? undefined : "the query ends inside a quoted name or string";
}

/** What the check needs to know about the engine the query will run in. */
export interface SpineSqlCatalog {
  project: string;
  /** `sluice_{project}`: the only database a spine query may name. */
  projectDatabase: string;
  /** Every database the engine has. */
  databases: ReadonlySet<string>;
  /** Tables an unqualified name would resolve to (the current database's, temporary tables). */
  localTables: ReadonlySet<string>;
  /** Rows of system.functions whose lower-case name is one the query calls. */
  functions: ReadonlyArray<{ name: string; aliasTo: string; origin: string }>;
  /** Lower-case names of table functions (system.table_functions) the query calls. */
  tableFunctions: ReadonlySet<string>;
}

/**
 * Table functions a spine query may read (lower case): each makes rows from its arguments alone.
 * `SQLStandardValues` is what `FROM (VALUES ...)` becomes. `zeros`, `zeros_mt` and `format` are
 * harmless too, but the engine's read-only mode (which spine queries also run in) refuses them.
 */
export const ALLOWED_TABLE_FUNCTIONS: ReadonlySet<string> = new Set([
  "numbers",
  "numbers_mt",
  "values",
  "sqlstandardvalues",
  "generate_series",
  "generateseries",
  "generaterandom",
  "null",
  "primes",
]);

/** The allowed table functions as users write them, for messages. */
const ALLOWED_TABLE_FUNCTION_NAMES = "numbers, numbers_mt, values (and VALUES), generate_series, generateRandom, null, primes";

/**
 * Functions a spine query may not call (lower case, after resolving aliases), and why: each
 * reads something outside the query, tells about the host, or holds the engine.
 */
export const DENIED_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ...["file"].map((f) => [f, "it reads server files"] as const),
  ...["joinget", "joingetornull", "hascolumnintable", "getmaxtablenamelengthfordatabase"].map((f) => [f, "it reads other tables"] as const),
  ...["getsetting", "getsettingordefault", "getserversetting", "getmergetreesetting", "getmacro", "globalvariable"].map(
    (f) => [f, "it reads the server's configuration"] as const,
  ),
  ...[
    "hostname",
    "fqdn",
    "displayname",
    "getoskernelversion",
    "getserverport",
    "tcpport",
    "serveruuid",
    "uptime",
    "buildid",
    "shardnum",
    "shardcount",
    "zookeepersessionuptime",
    "showcertificate",
    "getclienthttpheader",
  ].map((f) => [f, "it tells about the server"] as const),
  ...[
    "currentuser",
    "authenticateduser",
    "currentprofiles",
    "enabledprofiles",
    "defaultprofiles",
    "currentroles",
    "enabledroles",
    "defaultroles",
  ].map((f) => [f, "it tells about the server's users"] as const),
  ...["addresstoline", "addresstolinewithinlines", "addresstosymbol", "demangle", "logtrace"].map(
    (f) => [f, "it inspects or writes the server process"] as const,
  ),
  ...["catboostevaluate", "modelevaluate"].map((f) => [f, "it loads model files from the server"] as const),
  ...["transactionid", "transactionlatestsnapshot", "transactionoldestsnapshot", "generateserialid"].map(
    (f) => [f, "it reaches the server's transaction or coordination state"] as const,
  ),
  ...["sleep", "sleepeachrow"].map((f) => [f, "it holds the engine"] as const),
  ...["fuzzquery"].map((f) => [f, "it is a testing function"] as const),
]);

/** Prefixes of denied function families (lower case): dictionaries, file systems, models, internals. */
const DENIED_FUNCTION_PREFIXES: ReadonlyArray<[string, string]> = [
  ["dict", "it reads dictionaries"],
  ["filesystem", "it tells about the server's disks"],
  ["naivebayes", "it loads model files from the server"],
  ["__", "it is internal to the engine"],
];

/** Databases no spine query may name, whether or not the engine has them. */
const SYSTEM_DATABASES = new Set(["system", "information_schema"]);

/** AST node types a SELECT of a spine may hold; any other is refused rather than guessed at. */
const ALLOWED_LABELS = new Set([
  "SelectWithUnionQuery",
  "SelectIntersectExceptQuery",
  "SelectQuery",
  "ExpressionList",
  "Identifier",
  "TableIdentifier",
  "Function",
  "Literal",
  "Asterisk",
  "QualifiedAsterisk",
  "ColumnsRegexpMatcher",
  "ColumnsListMatcher",
  "QualifiedColumnsRegexpMatcher",
  "QualifiedColumnsListMatcher",
  "ColumnsTransformerList",
  "ColumnsApplyTransformer",
  "ColumnsExceptTransformer",
  "ColumnsReplaceTransformer",
  "ColumnsReplaceTransformer::Replacement",
  "TablesInSelectQuery",
  "TablesInSelectQueryElement",
  "TableExpression",
  "TableJoin",
  "ArrayJoin",
  "Subquery",
  "WithElement",
  "OrderByElement",
  "InterpolateElement",
  "WindowDefinition",
  "WindowListElement",
  "SampleRatio",
]);

/** `x IN t`, `x GLOBAL NOT IN t`, ...: functions whose second argument may name a table. */
const IN_FUNCTION = /^(global)?(not)?(null)?in(ignoreset)?$/i;

/** The lower-case names of every function a query calls, table functions included. */
export function functionNamesIn(root: AstNode): string[] {
  const names = new Set<string>();
  const visit = (node: AstNode) => {
    if (node.label === "Function") names.add(node.name.toLowerCase());
    node.children.forEach(visit);
  };
  visit(root);
  return [...names];
}

/** Whether the statement is a SELECT at all (a spine must be one). */
export function isSelect(root: AstNode): boolean {
  return root.label === "SelectWithUnionQuery";
}

/**
 * Everything a spine query's AST does that the policy above refuses, each described for the
 * client once; empty when the query may run.
 */
export function spineSqlProblems(root: AstNode, catalog: SpineSqlCatalog): string[] {
  const problems = new Set<string>();
  if (!isSelect(root)) return ["must be a SELECT (or WITH ... SELECT) statement"];
  for (const extra of root.children.slice(1)) {
    problems.add(
      extra.label === "Set"
        ? "may not change settings (SETTINGS)"
        : extra.label === "Identifier"
          ? "may not choose an output format (FORMAT): the server reads the rows itself"
          : "may not write a file (INTO OUTFILE)",
    );
  }
  // Names that stand for tables: FROM and JOIN items, and the right side of IN.
  const tableNames = new Set<AstNode>();
  const visit = (node: AstNode, parent: AstNode | undefined) => {
    if (node.label === "Set") problems.add("may not change settings (SETTINGS)");
    else if (!ALLOWED_LABELS.has(node.label)) problems.add(`uses ${node.label}, which a spine query may not`);
    if (
      node.label === "TableIdentifier" ||
      (node.label === "Identifier" && (parent?.label === "TableExpression" || tableNames.has(node)))
    ) {
      tableProblem(node.name, catalog, problems);
    } else if (node.label === "Identifier") {
      databaseProblem(node.name, catalog, problems);
    } else if (node.label === "Function" && parent?.label === "TableExpression") {
      if (!ALLOWED_TABLE_FUNCTIONS.has(node.name.toLowerCase())) {
        problems.add(
          `may not read the table function ${node.name}(): a spine query reads its project's tables and the table functions ${ALLOWED_TABLE_FUNCTION_NAMES}`,
        );
      }
    } else if (node.label === "Function") {
      const problem = functionProblem(node.name, catalog);
      if (problem) problems.add(problem);
      const argument = IN_FUNCTION.test(node.name) ? node.children[0]?.children[1] : undefined;
      if (argument) tableNames.add(argument);
    }
    for (const child of node.children) visit(child, node);
  };
  visit(root, undefined);
  return [...problems];
}

/** A table a query names: one of the project's (`sluice_{project}.t`), or unqualified (a CTE, or nothing). */
function tableProblem(name: string, catalog: SpineSqlCatalog, problems: Set<string>): void {
  const parts = name.split(".");
  const own = parts.length === 2 && parts[0] === catalog.projectDatabase;
  if (
    catalog.localTables.has(name) ||
    (parts.length === 1 && catalog.localTables.has(parts[0] as string)) ||
    !(parts.length === 1 || own)
  ) {
    problems.add(
      `may not read ${name}: a spine query reads only the tables of project "${catalog.project}", named ${catalog.projectDatabase}.<table>`,
    );
  }
}

/** A column or table name qualified by another database (system.one, sluice_other.t.x) is refused. */
function databaseProblem(name: string, catalog: SpineSqlCatalog, problems: Set<string>): void {
  const [first, ...rest] = name.split(".");
  if (rest.length === 0 || first === undefined || first === catalog.projectDatabase) return;
  if (SYSTEM_DATABASES.has(first.toLowerCase()) || catalog.databases.has(first)) {
    problems.add(`may not read database ${first}: a spine query reads only the tables of project "${catalog.project}"`);
  }
}

/** Why a function may not be called, or undefined when it may. */
function functionProblem(name: string, catalog: SpineSqlCatalog): string | undefined {
  const lower = name.toLowerCase();
  const known = catalog.functions.filter((f) => f.name.toLowerCase() === lower);
  if (known.some((f) => f.origin !== "System")) return `may not call ${name}(): user-defined functions are not allowed in a spine query`;
  for (const candidate of [lower, ...known.map((f) => f.aliasTo.toLowerCase()).filter((alias) => alias !== "")]) {
    const why = DENIED_FUNCTIONS.get(candidate) ?? DENIED_FUNCTION_PREFIXES.find(([prefix]) => candidate.startsWith(prefix))?.[1];
    if (why) return `may not call ${name}(): ${why}`;
  }
  // A table function's name called as a function, where no function of the name exists (url()).
  if (known.length === 0 && catalog.tableFunctions.has(lower) && !ALLOWED_TABLE_FUNCTIONS.has(lower)) {
    return `may not call ${name}(): it reads outside the query`;
  }
  return undefined;
}
