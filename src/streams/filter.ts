/**
 * Aggregation filters: expressions over an event's fields (docs/expressions.md) that decide
 * whether an event counts. The online path evaluates them with the one expression evaluator; the
 * offline path runs the same tree as SQL (src/storage/offline/filter-sql.ts). Filters use the subset of the
 * language whose SQL means exactly the same: fields (no feature refs), literals, comparisons,
 * and/or/not, + - * /, and the functions abs, coalesce and if.
 */
import type { FeatureValue } from "../common/feature-value.js";
import { type CompiledExpression, compileExpression } from "../expressions/compile.js";
import { type Expression, ExpressionError, parseExpression } from "../expressions/parse.js";
import type { StreamField } from "../registry/model.js";

const FILTER_FUNCTIONS = new Set(["abs", "coalesce", "if"]);

/** Compiles a filter over a stream's fields; throws {@link ExpressionError} with the position of the first problem. */
export function compileFilter(source: string, fields: readonly Pick<StreamField, "name" | "type">[]): CompiledExpression {
  const tree = parseExpression(source);
  checkFilterNodes(tree, source);
  const types = new Map(fields.map((f) => [f.name, f.type]));
  return compileExpression(source, (name, ref) => (ref ? undefined : types.get(name)));
}

/** A predicate of an event's field values: true only when the filter is true (null counts as false, as in SQL WHERE). */
export function filterPredicate(compiled: CompiledExpression): (fields: Record<string, FeatureValue>) => boolean {
  return (fields) => compiled.evaluate((name) => fields[name]) === true;
}

function checkFilterNodes(node: Expression, source: string): void {
  switch (node.kind) {
    case "name":
      if (node.ref) throw new ExpressionError(`a filter reads the event's fields, not features ("${node.name}")`, node.at, source);
      return;
    case "unary":
      checkFilterNodes(node.operand, source);
      return;
    case "binary":
      if (node.op === "%") throw new ExpressionError(`"%" is not available in filters`, node.at, source);
      checkFilterNodes(node.left, source);
      checkFilterNodes(node.right, source);
      return;
    case "call":
      if (!FILTER_FUNCTIONS.has(node.name))
        throw new ExpressionError(`filters can call ${[...FILTER_FUNCTIONS].join(", ")}, not ${node.name}()`, node.at, source);
      for (const arg of node.args) checkFilterNodes(arg, source);
      return;
    default:
      return;
  }
}
