/**
 * The syntax of request-time feature expressions (docs/expressions.md): a small, safe language of
 * arithmetic, comparisons and a few functions over request inputs and looked-up features. Text is
 * parsed into a tree here and never evaluated as code; every error carries its position.
 */

/** A parsed expression. `at` is the offset of its first character in the source. */
export type Expression =
  | { kind: "number"; value: number; at: number }
  | { kind: "string"; value: string; at: number }
  | { kind: "bool"; value: boolean; at: number }
  | { kind: "null"; at: number }
  /** A request input (`amount`) or a feature ref (`txn:amount_mean_7d`, `txn@2:x`, or any text in backticks). */
  | { kind: "name"; name: string; ref: boolean; at: number }
  | { kind: "unary"; op: "-" | "not"; operand: Expression; at: number }
  | { kind: "binary"; op: BinaryOperator; left: Expression; right: Expression; at: number }
  | { kind: "call"; name: string; args: Expression[]; at: number };

/** The binary operators, loosest binding first by precedence level. */
export type BinaryOperator = "or" | "and" | "=" | "!=" | "<" | "<=" | ">" | ">=" | "+" | "-" | "*" | "/" | "%";

/** A problem in an expression's text or types, with where it is. */
export class ExpressionError extends Error {
  override name = "ExpressionError";
  constructor(
    readonly description: string,
    /** Offset in the source (0-based). */
    readonly position: number,
    readonly source: string,
  ) {
    super(`${description} at ${describePosition(source, position)}`);
  }
}

/** "line 1, column 7" (both 1-based) of an offset. */
export function describePosition(source: string, position: number): string {
  const before = source.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

/** Longest expression text accepted, and deepest nesting: parsing stays cheap whatever a client sends. */
export const MAX_EXPRESSION_CHARS = 4096;
export const MAX_EXPRESSION_DEPTH = 64;

type Token =
  | { type: "number"; value: number; at: number }
  | { type: "string"; value: string; at: number }
  | { type: "word"; value: string; at: number }
  | { type: "ref"; value: string; at: number }
  | { type: "symbol"; value: string; at: number }
  | { type: "end"; at: number };

const SYMBOLS = ["<=", ">=", "!=", "(", ")", ",", "+", "-", "*", "/", "%", "=", "<", ">"];
const KEYWORDS = new Set(["and", "or", "not", "true", "false", "null"]);

/** Parses an expression; throws {@link ExpressionError} naming the position of the first problem. */
export function parseExpression(source: string): Expression {
  if (source.length > MAX_EXPRESSION_CHARS)
    throw new ExpressionError(`is longer than ${MAX_EXPRESSION_CHARS} characters`, MAX_EXPRESSION_CHARS, source);
  const tokens = tokenize(source);
  let index = 0;
  let depth = 0;
  /** Nodes written in parentheses: a comparison in them may be compared again. */
  const grouped = new WeakSet<Expression>();
  const peek = () => tokens[index] as Token;
  const next = () => tokens[index++] as Token;
  const fail = (description: string, token: Token = peek()): never => {
    throw new ExpressionError(description, token.at, source);
  };
  const isSymbol = (value: string) => {
    const token = peek();
    return token.type === "symbol" && token.value === value;
  };
  const isWord = (value: string) => {
    const token = peek();
    return token.type === "word" && token.value === value;
  };
  const expect = (value: string) => {
    if (!isSymbol(value)) fail(`expected "${value}", found ${describeToken(peek())}`);
    next();
  };

  // Loosest first. `not` sits between "and" and the comparisons, as in SQL: `not a > b` is `not (a > b)`.
  const levels: BinaryOperator[][] = [["or"], ["and"], ["=", "!=", "<", "<=", ">", ">="], ["+", "-"], ["*", "/", "%"]];
  const COMPARISONS = 2;
  const binary = (level: number): Expression => {
    if (level === levels.length) return negation();
    // The operands of "and" may start with `not`, which then takes a whole comparison.
    const operand = () => (level + 1 === COMPARISONS ? logicalNot() : binary(level + 1));
    let left = operand();
    for (;;) {
      const token = peek();
      const op = (levels[level] as BinaryOperator[]).find(
        (candidate) => (token.type === "symbol" || token.type === "word") && token.value === candidate,
      );
      if (!op) return left;
      next();
      // Comparisons do not chain: `a < b < c` is a mistake, not a boolean compared with c
      // (`(a < b) = c` says what it means and is fine).
      if (level === COMPARISONS && left.kind === "binary" && !grouped.has(left) && levels[COMPARISONS]?.includes(left.op))
        fail(`comparisons cannot be chained; use "and"`, token);
      left = { kind: "binary", op, left, right: operand(), at: token.at };
    }
  };
  /** `not` applies to a whole comparison (or another `not`). */
  const logicalNot = (): Expression => {
    if (!isWord("not")) return binary(COMPARISONS);
    const { at } = next();
    return nested(() => ({ kind: "unary", op: "not", operand: logicalNot(), at }));
  };
  /** Unary minus binds tightest. */
  const negation = (): Expression => {
    if (!isSymbol("-")) return primary();
    const { at } = next();
    return nested(() => ({ kind: "unary", op: "-", operand: negation(), at }));
  };
  const nested = (parse: () => Expression): Expression => {
    if (++depth > MAX_EXPRESSION_DEPTH) fail(`is nested more than ${MAX_EXPRESSION_DEPTH} deep`);
    const result = parse();
    depth--;
    return result;
  };
  const primary = (): Expression => {
    const token = next();
    switch (token.type) {
      case "number":
        return { kind: "number", value: token.value, at: token.at };
      case "string":
        return { kind: "string", value: token.value, at: token.at };
      case "ref":
        return { kind: "name", name: token.value, ref: true, at: token.at };
      case "word": {
        if (token.value === "true" || token.value === "false") return { kind: "bool", value: token.value === "true", at: token.at };
        if (token.value === "null") return { kind: "null", at: token.at };
        if (KEYWORDS.has(token.value)) return fail(`"${token.value}" needs something before it`, token);
        if (!isSymbol("(")) return { kind: "name", name: token.value, ref: false, at: token.at };
        next();
        const args: Expression[] = [];
        if (!isSymbol(")")) {
          for (;;) {
            args.push(nested(() => binary(0)));
            if (!isSymbol(",")) break;
            next();
          }
        }
        expect(")");
        return { kind: "call", name: token.value, args, at: token.at };
      }
      case "symbol":
        if (token.value === "(") {
          const inner = nested(() => binary(0));
          expect(")");
          grouped.add(inner);
          return inner;
        }
        return fail(`unexpected "${token.value}"`, token);
      case "end":
        return fail("the expression ends too early", token);
    }
  };

  const expression = binary(0);
  if (peek().type !== "end") fail(`unexpected ${describeToken(peek())} after a complete expression`);
  return expression;
}

function describeToken(token: Token): string {
  if (token.type === "end") return "the end";
  if (token.type === "string") return "a string";
  return `"${String(token.value)}"`;
}

/**
 * Splits the text into tokens. Feature refs are words with `:` (and optionally `@N`) inside, e.g.
 * `txn@2:amount`; any other name in backticks (`` `projects/p/featureViews/txn:amount` ``) is a ref too.
 */
function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (description: string, at: number): never => {
    throw new ExpressionError(description, at, source);
  };
  while (i < source.length) {
    const char = source[i] as string;
    if (/\s/.test(char)) {
      i++;
      continue;
    }
    const at = i;
    if (/[0-9.]/.test(char)) {
      const match = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(source.slice(i));
      if (!match) fail(`"${char}" does not start a number`, at);
      const text = (match as RegExpExecArray)[0];
      if (/[A-Za-z_]/.test(source[i + text.length] ?? "")) fail(`"${text}${source[i + text.length]}" is not a number`, at);
      const value = Number(text);
      if (!Number.isFinite(value)) fail(`${text} is too large for a number`, at);
      tokens.push({ type: "number", value, at });
      i += text.length;
      continue;
    }
    if (char === "'") {
      let value = "";
      i++;
      for (;;) {
        if (i >= source.length) fail("the string is not closed with '", at);
        if (source[i] === "'") {
          if (source[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += source[i];
        i++;
      }
      tokens.push({ type: "string", value, at });
      continue;
    }
    if (char === "`") {
      const end = source.indexOf("`", i + 1);
      if (end < 0) fail("the quoted name is not closed with `", at);
      const value = source.slice(i + 1, end);
      if (value === "") fail("a quoted name is empty", at);
      tokens.push({ type: "ref", value, at });
      i = end + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*(?:@[0-9]+)?(?::[A-Za-z_][A-Za-z0-9_]*)?/.exec(source.slice(i));
    if (word) {
      const text = word[0];
      const isRef = text.includes(":");
      if (!isRef && text.includes("@")) fail(`"${text}" is a view without a feature; a feature ref is "view@N:feature"`, at);
      // Keywords in any case (AND, Not, NULL); names keep their case.
      const keyword = KEYWORDS.has(text.toLowerCase()) ? text.toLowerCase() : text;
      tokens.push(isRef ? { type: "ref", value: text, at } : { type: "word", value: keyword, at });
      i += text.length;
      continue;
    }
    const symbol = SYMBOLS.find((s) => source.startsWith(s, i));
    if (!symbol) fail(`"${char}" is not part of the expression language`, at);
    tokens.push({ type: "symbol", value: symbol as string, at });
    i += (symbol as string).length;
  }
  tokens.push({ type: "end", at: source.length });
  return tokens;
}
