export function hello(n: number): string { return `hello ${n}`; }
