import { describe, expect, it } from "vitest";
import {
  AstDumpError,
  functionNamesIn,
  parseAstDump,
  quotedIdentifierProblem,
  type SpineSqlCatalog,
  spineSqlProblems,
} from "./spine-sql-check.js";

/** Dumps as chDB 26.7 prints them for `EXPLAIN AST <query>`. */
const dumps = {
  numbers: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 2)
    Identifier number (alias customer_id)
    Function now64 (alias event_time) (children 1)
     ExpressionList (children 1)
      Literal UInt64_6
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function numbers (children 1)
       ExpressionList (children 1)
        Literal UInt64_3
`,
  /** SELECT a FROM file('/etc/hostname') AS f JOIN (SELECT * FROM system.one) s ON 1 WHERE x IN (SELECT 1 FROM url('http://x')) SETTINGS max_threads=1 */
  hidden: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 4)
   ExpressionList (children 1)
    Identifier a
   TablesInSelectQuery (children 2)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      Function file (alias f) (children 1)
       ExpressionList (children 1)
        Literal '/etc/hostname'
    TablesInSelectQueryElement (children 2)
     TableExpression (children 1)
      Subquery (alias s) (children 1)
       SelectWithUnionQuery (children 1)
        ExpressionList (children 1)
         SelectQuery (children 2)
          ExpressionList (children 1)
           Asterisk
          TablesInSelectQuery (children 1)
           TablesInSelectQueryElement (children 1)
            TableExpression (children 1)
             TableIdentifier system.one
     TableJoin (children 1)
      Literal UInt64_1
   Function in (children 1)
    ExpressionList (children 2)
     Identifier x
     Subquery (children 1)
      SelectWithUnionQuery (children 1)
       ExpressionList (children 1)
        SelectQuery (children 2)
         ExpressionList (children 1)
          Literal UInt64_1
         TablesInSelectQuery (children 1)
          TablesInSelectQueryElement (children 1)
           TableExpression (children 1)
            Function url (children 1)
             ExpressionList (children 1)
              Literal 'http://x'
   Set
`,
  /** SELECT * FROM sluice_p.t WHERE a IN sluice_q.t AND a GLOBAL NOT IN x */
  inTables: `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 3)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      TableIdentifier sluice_p.t
   Function and (children 1)
    ExpressionList (children 2)
     Function in (children 1)
      ExpressionList (children 2)
       Identifier a
       Identifier sluice_q.t
     Function globalNotIn (children 1)
      ExpressionList (children 2)
       Identifier a
       Identifier x
`,
  /** SELECT 1 INTO OUTFILE 'x' TRUNCATE FORMAT CSV */
  outfile: `SelectWithUnionQuery (children 3)
 ExpressionList (children 1)
  SelectQuery (children 1)
   ExpressionList (children 1)
    Literal UInt64_1
 Literal 'x'
 Identifier CSV
`,
  insert: `InsertQuery   (children 2)
 Identifier t
 SelectWithUnionQuery (children 1)
  ExpressionList (children 1)
   SelectQuery (children 1)
    ExpressionList (children 1)
     Literal UInt64_1
`,
};

const catalog: SpineSqlCatalog = {
  project: "p",
  projectDatabase: "sluice_p",
  databases: new Set(["system", "default", "sluice_p", "sluice_q", "information_schema", "INFORMATION_SCHEMA"]),
  localTables: new Set(["leftover"]),
  functions: [
    { name: "now64", aliasTo: "", origin: "System" },
    { name: "hostname", aliasTo: "hostName", origin: "System" },
    { name: "my_udf", aliasTo: "", origin: "SQLUserDefined" },
    { name: "format", aliasTo: "", origin: "System" },
    { name: "file", aliasTo: "", origin: "System" },
  ],
  tableFunctions: new Set(["numbers", "file", "url", "format"]),
};

/** A one-function query's dump: SELECT {name}(1). */
function calling(name: string): string {
  return `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 1)
   ExpressionList (children 1)
    Function ${name} (children 1)
     ExpressionList (children 1)
      Literal UInt64_1
`;
}

/** A one-table query's dump: SELECT * FROM {name}. */
function reading(name: string, label = "TableIdentifier"): string {
  return `SelectWithUnionQuery (children 1)
 ExpressionList (children 1)
  SelectQuery (children 2)
   ExpressionList (children 1)
    Asterisk
   TablesInSelectQuery (children 1)
    TablesInSelectQueryElement (children 1)
     TableExpression (children 1)
      ${label} ${name}
`;
}

const problemsOf = (dump: string) => spineSqlProblems(parseAstDump(dump), catalog);

describe("parseAstDump", () => {
  it("reads the tree, names, aliases and children", () => {
    const root = parseAstDump(dumps.numbers);
    expect(root.label).toBe("SelectWithUnionQuery");
    const columns = root.children[0]?.children[0]?.children[0];
    expect(columns?.children.map((c) => [c.label, c.name, c.alias])).toEqual([
      ["Identifier", "number", "customer_id"],
      ["Function", "now64", "event_time"],
    ]);
    expect(functionNamesIn(root)).toEqual(["now64", "numbers"]);
  });

  it("refuses dumps whose lines do not add up to the declared tree", () => {
    // A name holding a line break would add a line the parser did not make.
    expect(() => parseAstDump(dumps.numbers.replace("Identifier number (alias customer_id)", "Identifier a\n    Identifier b"))).toThrow(
      AstDumpError,
    );
    // A name holding "(children N)" claims children that are not there.
    expect(() => parseAstDump(dumps.numbers.replace("Identifier number (alias customer_id)", "Identifier x (children 1)"))).toThrow(
      AstDumpError,
    );
    expect(() => parseAstDump(`${dumps.numbers}SelectQuery\n`)).toThrow(AstDumpError);
    expect(() => parseAstDump("  SelectQuery\n")).toThrow(AstDumpError);
    expect(() => parseAstDump("Select-Query\n")).toThrow(AstDumpError);
  });
});

describe("quotedIdentifierProblem", () => {
  it("refuses escapes and control characters in quoted names, not in strings", () => {
    expect(quotedIdentifierProblem("SELECT 'a\\nb', `x y` FROM t")).toBeUndefined();
    expect(quotedIdentifierProblem("SELECT `a\\nb`")).toContain("escape sequence");
    expect(quotedIdentifierProblem('SELECT "a\tb"')).toContain("control character");
    expect(quotedIdentifierProblem("SELECT `a")).toContain("ends inside");
  });
});

describe("spineSqlProblems", () => {
  it("lets a SELECT over allowed table functions and the project's tables through", () => {
    expect(problemsOf(dumps.numbers)).toEqual([]);
    expect(problemsOf(reading("sluice_p.stats__v1"))).toEqual([]);
    // Unqualified: a CTE (or nothing, which the engine refuses).
    expect(problemsOf(reading("recent"))).toEqual([]);
    expect(problemsOf(calling("format"))).toEqual([]);
  });

  it("finds table functions, system tables and settings hidden in joins, subqueries and IN", () => {
    expect(problemsOf(dumps.hidden)).toEqual([
      expect.stringContaining("may not read the table function file()"),
      expect.stringContaining("may not read system.one"),
      expect.stringContaining("may not read the table function url()"),
      "may not change settings (SETTINGS)",
    ]);
  });

  it("treats the right side of IN as a table", () => {
    expect(problemsOf(dumps.inTables)).toEqual([expect.stringContaining("may not read sluice_q.t")]);
  });

  it("refuses other databases however they are named, and names of the current database", () => {
    for (const name of ["system.tables", "SYSTEM.ONE", "information_schema.tables", "INFORMATION_SCHEMA.TABLES", "sluice_q.t", "a.b.c"]) {
      expect(problemsOf(reading(name))).toEqual([expect.stringContaining(`may not read ${name}`)]);
    }
    expect(problemsOf(reading("leftover"))).toEqual([expect.stringContaining("may not read leftover")]);
  });

  it("refuses functions that read outside the query, by any case or alias, and user-defined ones", () => {
    for (const name of [
      "dictGet",
      "DICTGETSTRING",
      "dictHas",
      "joinGet",
      "file",
      "File",
      "getSetting",
      "filesystemAvailable",
      "sleep",
      "__getScalar",
    ]) {
      expect(problemsOf(calling(name))).toEqual([expect.stringContaining(`may not call ${name}()`)]);
    }
    expect(problemsOf(calling("hostname"))).toEqual([expect.stringContaining("tells about the server")]);
    expect(problemsOf(calling("my_udf"))).toEqual([expect.stringContaining("user-defined")]);
    expect(problemsOf(calling("url"))).toEqual([expect.stringContaining("reads outside the query")]);
    expect(problemsOf(calling("lower"))).toEqual([]);
  });

  it("refuses anything but a plain SELECT: other statements, output files, formats", () => {
    expect(problemsOf(dumps.insert)).toEqual(["must be a SELECT (or WITH ... SELECT) statement"]);
    expect(problemsOf(dumps.outfile)).toEqual([
      "may not write a file (INTO OUTFILE)",
      "may not choose an output format (FORMAT): the server reads the rows itself",
    ]);
  });
});
