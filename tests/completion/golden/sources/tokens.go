// Package tokens splits simple arithmetic expressions and evaluates them.
package tokens

import (
	"fmt"
	"strconv"
	"unicode"
)

// Kind says what a token is.
type Kind int

const (
	Number Kind = iota
	Operator
	LeftParen
	RightParen
)

// Token is one piece of an expression.
type Token struct {
	Kind  Kind
	Text  string
	Value float64
}

// Split turns an expression into tokens.
func Split(input string) ([]Token, error) {
	var tokens []Token
	runes := []rune(input)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case unicode.IsSpace(r):
			continue
		case unicode.IsDigit(r) || r == '.':
			start := i
			for i+1 < len(runes) && (unicode.IsDigit(runes[i+1]) || runes[i+1] == '.') {
				i++
			}
			text := string(runes[start : i+1])
			value, err := strconv.ParseFloat(text, 64)
			if err != nil {
				return nil, fmt.Errorf("bad number %q: %w", text, err)
			}
			tokens = append(tokens, Token{Kind: Number, Text: text, Value: value})
		case r == '(':
			tokens = append(tokens, Token{Kind: LeftParen, Text: "("})
		case r == ')':
			tokens = append(tokens, Token{Kind: RightParen, Text: ")"})
		case r == '+' || r == '-' || r == '*' || r == '/':
			tokens = append(tokens, Token{Kind: Operator, Text: string(r)})
		default:
			return nil, fmt.Errorf("unexpected %q at %d", r, i)
		}
	}
	return tokens, nil
}

func precedence(op string) int {
	if op == "*" || op == "/" {
		return 2
	}
	return 1
}

func apply(op string, a, b float64) (float64, error) {
	switch op {
	case "+":
		return a + b, nil
	case "-":
		return a - b, nil
	case "*":
		return a * b, nil
	case "/":
		if b == 0 {
			return 0, fmt.Errorf("division by zero")
		}
		return a / b, nil
	}
	return 0, fmt.Errorf("unknown operator %q", op)
}

// Eval computes the value of the tokens with the usual precedence.
func Eval(tokens []Token) (float64, error) {
	var values []float64
	var ops []string
	reduce := func() error {
		if len(values) < 2 || len(ops) == 0 {
			return fmt.Errorf("malformed expression")
		}
		b, a := values[len(values)-1], values[len(values)-2]
		op := ops[len(ops)-1]
		values, ops = values[:len(values)-2], ops[:len(ops)-1]
		result, err := apply(op, a, b)
		if err != nil {
			return err
		}
		values = append(values, result)
		return nil
	}
	for _, token := range tokens {
		switch token.Kind {
		case Number:
			values = append(values, token.Value)
		case LeftParen:
			ops = append(ops, "(")
		case RightParen:
			for len(ops) > 0 && ops[len(ops)-1] != "(" {
				if err := reduce(); err != nil {
					return 0, err
				}
			}
			if len(ops) == 0 {
				return 0, fmt.Errorf("unbalanced parenthesis")
			}
			ops = ops[:len(ops)-1]
		case Operator:
			for len(ops) > 0 && ops[len(ops)-1] != "(" && precedence(ops[len(ops)-1]) >= precedence(token.Text) {
				if err := reduce(); err != nil {
					return 0, err
				}
			}
			ops = append(ops, token.Text)
		}
	}
	for len(ops) > 0 {
		if err := reduce(); err != nil {
			return 0, err
		}
	}
	if len(values) != 1 {
		return 0, fmt.Errorf("malformed expression")
	}
	return values[0], nil
}
