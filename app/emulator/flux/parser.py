"""A recursive-descent parser for the Flux subset (precedence as the Flux specification)."""

from __future__ import annotations

from app.emulator.flux import ast
from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.lexer import Token, tokenize
from app.emulator.flux.values import MONTHS_PER_UNIT, NS_PER_UNIT, Duration

COMPARISON_OPS = ("==", "!=", "<=", ">=", "<", ">", "=~", "!~")


def duration_from_parts(parts: tuple[tuple[int, str], ...]) -> Duration:
    months = ns = 0
    for amount, unit in parts:
        if unit in MONTHS_PER_UNIT:
            months += amount * MONTHS_PER_UNIT[unit]
        else:
            ns += amount * NS_PER_UNIT[unit]
    return Duration(months, ns)


class Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    # -- token helpers -------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, offset: int = 1) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def at(self, text: str, kind: str = "OP") -> bool:
        return self.tok.kind == kind and self.tok.text == text

    def at_keyword(self, word: str) -> bool:
        return self.at(word, "KEYWORD")

    def take(self) -> Token:
        token = self.tok
        if token.kind != "EOF":
            self.i += 1
        return token

    def error(self, message: str, token: Token | None = None) -> FluxError:
        token = token or self.tok
        found = "end of script" if token.kind == "EOF" else repr(token.text)
        return FluxError(f"syntax error at {token.where()}: {message}, found {found}")

    def expect(self, text: str, kind: str = "OP") -> Token:
        if not self.at(text, kind):
            raise self.error(f"expected {text!r}")
        return self.take()

    def expect_ident(self) -> Token:
        if self.tok.kind != "IDENT":
            raise self.error("expected an identifier")
        return self.take()

    @staticmethod
    def pos(token: Token) -> dict[str, int]:
        return {"line": token.line, "col": token.col}

    # -- program and statements ------------------------------------------------------------------
    def program(self) -> ast.Program:
        start = self.tok
        if self.at_keyword("package"):
            self.take()
            self.expect_ident()
        imports: list[ast.Import] = []
        while self.at_keyword("import"):
            token = self.take()
            alias = self.take().text if self.tok.kind == "IDENT" else None
            if self.tok.kind != "STRING":
                raise self.error("expected an import path string")
            imports.append(ast.Import(str(self.take().value), alias, **self.pos(token)))
        body: list[ast.Statement] = []
        while self.tok.kind != "EOF":
            body.append(self.statement())
            while self.at(";"):
                self.take()
        return ast.Program(imports, body, **self.pos(start))

    def statement(self) -> ast.Statement:
        token = self.tok
        if self.at_keyword("import"):
            raise self.error("import declarations must come before other statements")
        if self.at_keyword("option"):
            self.take()
            name = self.expect_ident().text
            if self.at("."):
                self.take()
                name += "." + self.expect_ident().text
            self.expect("=")
            return ast.OptionAssign(name, self.expression(), **self.pos(token))
        if self.at_keyword("return"):
            self.take()
            return ast.Return(self.expression(), **self.pos(token))
        if self.at_keyword("builtin") or self.at_keyword("testcase"):
            raise UnsupportedError(f"unsupported statement {token.text!r} at {token.where()}")
        if token.kind == "IDENT" and self.peek().kind == "OP" and self.peek().text == "=":
            self.take()
            self.take()
            return ast.VarAssign(token.text, self.expression(), **self.pos(token))
        return ast.ExprStatement(self.expression(), **self.pos(token))

    # -- expressions, lowest precedence first ----------------------------------------------------
    def expression(self) -> ast.Expr:
        if self.at_keyword("if"):
            token = self.take()
            test = self.expression()
            self.expect("then", "KEYWORD")
            consequent = self.expression()
            self.expect("else", "KEYWORD")
            return ast.Conditional(test, consequent, self.expression(), **self.pos(token))
        return self.logical_or()

    def logical_or(self) -> ast.Expr:
        left = self.logical_and()
        while self.at_keyword("or"):
            token = self.take()
            left = ast.Logical("or", left, self.logical_and(), **self.pos(token))
        return left

    def logical_and(self) -> ast.Expr:
        left = self.unary_logical()
        while self.at_keyword("and"):
            token = self.take()
            left = ast.Logical("and", left, self.unary_logical(), **self.pos(token))
        return left

    def unary_logical(self) -> ast.Expr:
        if self.at_keyword("not") or self.at_keyword("exists"):
            token = self.take()
            return ast.Unary(token.text, self.unary_logical(), **self.pos(token))
        return self.comparison()

    def comparison(self) -> ast.Expr:
        left = self.additive()
        while self.tok.kind == "OP" and self.tok.text in COMPARISON_OPS:
            token = self.take()
            left = ast.Binary(token.text, left, self.additive(), **self.pos(token))
        return left

    def additive(self) -> ast.Expr:
        left = self.multiplicative()
        while self.at("+") or self.at("-"):
            token = self.take()
            left = ast.Binary(token.text, left, self.multiplicative(), **self.pos(token))
        return left

    def multiplicative(self) -> ast.Expr:
        left = self.power()
        while self.at("*") or self.at("/") or self.at("%"):
            token = self.take()
            left = ast.Binary(token.text, left, self.power(), **self.pos(token))
        return left

    def power(self) -> ast.Expr:
        left = self.pipe()
        while self.at("^"):
            token = self.take()
            left = ast.Binary("^", left, self.pipe(), **self.pos(token))
        return left

    def pipe(self) -> ast.Expr:
        left = self.unary()
        while self.at("|>"):
            token = self.take()
            call = self.postfix()
            if not isinstance(call, ast.Call):
                raise self.error("expected a function call after |>", token)
            left = ast.Pipe(left, call, **self.pos(token))
        return left

    def unary(self) -> ast.Expr:
        if self.at("-") or self.at("+"):
            token = self.take()
            operand = self.unary()
            if token.text == "-" and isinstance(operand, ast.Literal):
                value = operand.value
                if isinstance(value, Duration):
                    return ast.Literal(-value, **self.pos(token))
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return ast.Literal(-value, **self.pos(token))
            return ast.Unary(token.text, operand, **self.pos(token))
        return self.postfix()

    def postfix(self) -> ast.Expr:
        expr = self.primary()
        while True:
            token = self.tok
            if self.at("."):
                self.take()
                expr = ast.Member(expr, self.expect_ident().text, **self.pos(token))
            elif self.at("["):
                self.take()
                index = self.expression()
                self.expect("]")
                expr = ast.Index(expr, index, **self.pos(token))
            elif self.at("("):
                expr = ast.Call(expr, self.call_args(), **self.pos(token))
            else:
                return expr

    def call_args(self) -> list[tuple[str, ast.Expr]]:
        self.expect("(")
        args: list[tuple[str, ast.Expr]] = []
        while not self.at(")"):
            name_token = self.tok
            if name_token.kind != "IDENT" or not (
                self.peek().kind == "OP" and self.peek().text in {":", ",", ")"}
            ):
                raise self.error("function arguments must be named (name: value)")
            self.take()
            if self.at(":"):
                self.take()
                args.append((name_token.text, self.expression()))
            else:
                args.append((name_token.text, ast.Identifier(name_token.text, **self.pos(name_token))))
            if not self.at(")"):
                self.expect(",")
        self.take()
        return args

    def primary(self) -> ast.Expr:
        token = self.tok
        kind = token.kind
        if kind == "IDENT":
            self.take()
            return ast.Identifier(token.text, **self.pos(token))
        if kind in {"INT", "FLOAT", "TIME"}:
            self.take()
            return ast.Literal(token.value, **self.pos(token))
        if kind == "DURATION":
            self.take()
            parts = token.value
            assert isinstance(parts, tuple)
            return ast.Literal(duration_from_parts(parts), **self.pos(token))
        if kind == "REGEX":
            self.take()
            from app.emulator.flux.regex import compile_regex

            return ast.Literal(compile_regex(str(token.value), token.where()), **self.pos(token))
        if kind == "STRING":
            self.take()
            return self.string(token)
        if self.at("("):
            function = self.try_function()
            if function is not None:
                return function
            self.take()
            expr = self.expression()
            self.expect(")")
            return expr
        if self.at("["):
            return self.array()
        if self.at("{"):
            return self.record()
        raise self.error("expected an expression")

    def string(self, token: Token) -> ast.Expr:
        from app.emulator.flux.strings import split_string

        parts: list[str | ast.Expr] = []
        for part in split_string(str(token.value), token):
            if isinstance(part, str):
                parts.append(part)
            else:
                sub = Parser(tokenize(part[0]))
                expr = sub.expression()
                if sub.tok.kind != "EOF":
                    raise sub.error("unexpected token in string interpolation")
                parts.append(expr)
        if all(isinstance(part, str) for part in parts):
            return ast.Literal("".join(str(part) for part in parts), **self.pos(token))
        return ast.StringInterp(parts, **self.pos(token))

    def try_function(self) -> ast.FunctionLit | None:
        start = self.i
        token = self.take()  # "("
        params: list[ast.Param] = []
        try:
            while not self.at(")"):
                name = self.tok
                if name.kind != "IDENT":
                    raise self.error("not a parameter")
                self.take()
                param = ast.Param(name.text, line=name.line, col=name.col)
                if self.at("="):
                    self.take()
                    if self.at("<-"):
                        self.take()
                        param.pipe = True
                    else:
                        param.default = self.expression()
                params.append(param)
                if not self.at(")"):
                    self.expect(",")
            self.take()
            if not self.at("=>"):
                raise self.error("not a function")
        except FluxError:
            self.i = start
            return None
        self.take()
        body: ast.Expr | ast.Block
        if self.at("{"):
            brace = self.take()
            statements: list[ast.Statement] = []
            while not self.at("}"):
                if self.tok.kind == "EOF":
                    raise self.error("expected '}' to close the function body")
                statements.append(self.statement())
            self.take()
            body = ast.Block(statements, **self.pos(brace))
        else:
            body = self.expression()
        return ast.FunctionLit(params, body, **self.pos(token))

    def array(self) -> ast.Expr:
        token = self.take()
        items: list[ast.Expr] = []
        if self.at(":"):
            raise UnsupportedError(f"dictionary literals are not supported ({token.where()})")
        while not self.at("]"):
            items.append(self.expression())
            if self.at(":"):
                raise UnsupportedError(f"dictionary literals are not supported ({token.where()})")
            if not self.at("]"):
                self.expect(",")
        self.take()
        return ast.ArrayLit(items, **self.pos(token))

    def record(self) -> ast.Expr:
        token = self.take()
        with_: ast.Expr | None = None
        if self.tok.kind == "IDENT" and self.peek().kind == "KEYWORD" and self.peek().text == "with":
            with_ = ast.Identifier(self.take().text, **self.pos(token))
            self.take()
        fields: list[tuple[str, ast.Expr]] = []
        while not self.at("}"):
            key = self.tok
            if key.kind == "IDENT":
                name = key.text
            elif key.kind == "STRING":
                name = str(key.value)
            else:
                raise self.error("expected a record property name")
            self.take()
            if self.at(":"):
                self.take()
                fields.append((name, self.expression()))
            else:
                fields.append((name, ast.Identifier(name, **self.pos(key))))
            if not self.at("}"):
                self.expect(",")
        self.take()
        return ast.RecordLit(fields, with_, **self.pos(token))


def parse(source: str) -> ast.Program:
    return Parser(tokenize(source)).program()
