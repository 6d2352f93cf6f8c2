export * from './runtime';
export * from './plot/show';
