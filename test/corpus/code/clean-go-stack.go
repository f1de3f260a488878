package collections

import "errors"

// ErrEmpty is returned when popping or peeking an empty stack.
var ErrEmpty = errors.New("stack is empty")

// Stack is a LIFO stack of any element type. The zero value is ready to use.
type Stack[T any] struct {
	items []T
}

// Push adds v on top.
func (s *Stack[T]) Push(v T) {
	s.items = append(s.items, v)
}

// Pop removes and returns the top element.
func (s *Stack[T]) Pop() (T, error) {
	var zero T
	if len(s.items) == 0 {
		return zero, ErrEmpty
	}
	last := len(s.items) - 1
	v := s.items[last]
	s.items[last] = zero // let the garbage collector reclaim it
	s.items = s.items[:last]
	return v, nil
}

// Peek returns the top element without removing it.
func (s *Stack[T]) Peek() (T, error) {
	var zero T
	if len(s.items) == 0 {
		return zero, ErrEmpty
	}
	return s.items[len(s.items)-1], nil
}

// Len is the number of elements.
func (s *Stack[T]) Len() int { return len(s.items) }
