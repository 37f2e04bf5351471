// Case names shared by the in-process suite and the @pm2/io child, so their rows line up.
export const GROUPS = {
  inc: 'counter inc(), unlabelled',
  labelled: 'inc() with labels given per call',
  held: 'inc() on a held labelled child',
  set: 'gauge set()',
  setFloat: 'gauge set(), changing float values',
  observe: 'histogram observe()',
  mark: 'meter mark()',
};
