export * from '../binding';
