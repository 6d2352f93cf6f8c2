/**
 * Image captioning with attention (lecture section 5, Show, Attend and Tell): captioned scenes,
 * a Flickr8k-style loader, the CNN encoder + LSTM decoder without / with soft / with hard
 * attention, decoding, attention correctness, figures.
 */
export * from './scenes';
export * from './vocab';
export * from './data';
export * from './model';
export * from './decode';
export * from './metrics';
export * from './flickr';
export * from './pretrain';
export * from './weights';
export * from './figures';
export * from './training';
export * from './recipe';
