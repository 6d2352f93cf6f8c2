// Filled by the lesson that owns this folder.
export {};
