/** Aggregation filters (src/streams/filter.ts) as ClickHouse SQL, for the offline window path. */
import { type Expression, parseExpression } from "../../expressions/parse.js";
import type { StreamField } from "../../registry/model.js";

/**
 * The filter as a ClickHouse boolean expression over columns named by `column` (NULL where the
 * filter is null). Same results as the evaluator: nulls propagate, and/or are three-valued,
 * division by zero and non-finite results are null, numbers are doubles.
 */
export function filterSql(
  source: string,
  fields: readonly Pick<StreamField, "name" | "type">[],
  column: (field: string) => string,
): string {
  const types = new Map(fields.map((f) => [f.name, f.type]));
  const finite = (x: string) => `if(isFinite(${x}), ${x}, NULL)`;
  const sql = (node: Expression): string => {
    switch (node.kind) {
      case "number":
        return `toFloat64(${JSON.stringify(node.value)})`;
      case "string":
        return `'${node.value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
      case "bool":
        return node.value ? "true" : "false";
      case "null":
        return "NULL";
      case "name": {
        const type = types.get(node.name);
        // Numbers are doubles inside expressions, as the evaluator reads them.
        return type === "int32" || type === "int64" || type === "float" || type === "double"
          ? `toFloat64(${column(node.name)})`
          : column(node.name);
      }
      case "unary":
        return node.op === "-" ? `(-${sql(node.operand)})` : `(NOT ${sql(node.operand)})`;
      case "binary": {
        const left = sql(node.left);
        const right = sql(node.right);
        switch (node.op) {
          case "and":
            return `(${left} AND ${right})`;
          case "or":
            return `(${left} OR ${right})`;
          case "/":
            return `if(${right} = 0, NULL, ${finite(`(${left} / ${right})`)})`;
          case "+":
          case "-":
          case "*":
            return finite(`(${left} ${node.op} ${right})`);
          default:
            return `(${left} ${node.op} ${right})`;
        }
      }
      case "call": {
        const args = node.args.map(sql);
        if (node.name === "abs") return `abs(${args[0]})`;
        if (node.name === "coalesce") return `coalesce(${args.join(", ")})`;
        return `if(${args[0]} IS NOT NULL AND ${args[0]}, ${args[1]}, ${args[2]})`;
      }
    }
  };
  return sql(parseExpression(source));
}

/** The event fields a filter reads. */
export function filterFieldNames(source: string): string[] {
  const names = new Set<string>();
  const walk = (node: Expression): void => {
    if (node.kind === "name") names.add(node.name);
    else if (node.kind === "unary") walk(node.operand);
    else if (node.kind === "binary") {
      walk(node.left);
      walk(node.right);
    } else if (node.kind === "call") node.args.forEach(walk);
  };
  walk(parseExpression(source));
  return [...names];
}
