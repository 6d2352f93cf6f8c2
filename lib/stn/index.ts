/**
 * Spatial transformer networks (lecture section 6, notebook 06-spatial-transformers):
 * the grid generator and bilinear sampler, the transformer layer and localisation network,
 * distorted-MNIST generators, the MNIST IDX loader, the experiment and its figures.
 */
export * from './sampler';
export * from './layers';
export * from './distort';
export * from './idx';
export * from './experiment';
export * from './weights';
export * from './figures';
