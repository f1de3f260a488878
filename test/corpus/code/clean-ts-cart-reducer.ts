/** Shopping-cart state and its reducer. */
export interface Line {
  sku: string;
  price: number;
  quantity: number;
}

export interface CartState {
  lines: Line[];
  coupon?: string;
}

export type CartAction =
  | { type: 'add'; sku: string; price: number }
  | { type: 'remove'; sku: string }
  | { type: 'setQuantity'; sku: string; quantity: number }
  | { type: 'applyCoupon'; code: string };

export const emptyCart: CartState = { lines: [] };

export function cartReducer(state: CartState, action: CartAction): CartState {
  switch (action.type) {
    case 'add': {
      const existing = state.lines.find((l) => l.sku === action.sku);
      if (existing) return cartReducer(state, { type: 'setQuantity', sku: action.sku, quantity: existing.quantity + 1 });
      return { ...state, lines: [...state.lines, { sku: action.sku, price: action.price, quantity: 1 }] };
    }
    case 'remove':
      return { ...state, lines: state.lines.filter((l) => l.sku !== action.sku) };
    case 'setQuantity':
      if (action.quantity <= 0) return cartReducer(state, { type: 'remove', sku: action.sku });
      return { ...state, lines: state.lines.map((l) => (l.sku === action.sku ? { ...l, quantity: action.quantity } : l)) };
    case 'applyCoupon':
      return { ...state, coupon: action.code.trim().toUpperCase() };
  }
}

export function total(state: CartState): number {
  return state.lines.reduce((sum, l) => sum + l.price * l.quantity, 0);
}

test('adding the same sku twice increments the quantity', () => {
  const s = cartReducer(cartReducer(emptyCart, { type: 'add', sku: 'A', price: 5 }), { type: 'add', sku: 'A', price: 5 });
  expect(s.lines).toEqual([{ sku: 'A', price: 5, quantity: 2 }]);
  expect(total(s)).toBe(10);
});
