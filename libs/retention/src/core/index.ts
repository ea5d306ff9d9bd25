export * from './period';
export * from './planner';
export * from './policy';
