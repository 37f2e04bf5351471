// The demo's load generator: a few requests a second through real HTTP, so every chart
// moves: greetings (the leak), divisions (one in ten by zero: errors), and now and then a
// path no route serves.
const NAMES = ['Ada', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Frances'];

export function startLoad(base, { everyMs = 200 } = {}) {
  let n = 0;
  let inFlight = 0;
  const timer = setInterval(() => {
    if (inFlight > 20) return; // the app is slow: do not pile up
    n += 1;
    let path = `/greet/${NAMES[n % NAMES.length]}`;
    if (n % 5 === 0) path = `/divide?a=${n}&b=${n % 50 === 0 ? 0 : (n % 7) + 1}`;
    if (n % 97 === 0) path = '/nowhere';
    inFlight += 1;
    fetch(`${base}${path}`)
      .then((res) => res.arrayBuffer())
      .catch(() => {})
      .finally(() => {
        inFlight -= 1;
      });
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
