// End to end: axe-core checks every page a person sees against the WCAG 2.1 A and AA rules
// (tests/lib/axesuite.mjs) in the eight page languages axe.test.mjs leaves out, Farsi right
// to left among them, on a 360 x 640 phone in the light colours (the sizes and the dark
// colours are checked in English and Arabic; what changes with the language is the text:
// its length, its script, its direction, its lang attribute).
import { axeSuite } from '../lib/axesuite.mjs';

axeSuite(import.meta.url, {
  langs: ['fr', 'nl', 'es', 'ti', 'sq', 'ro', 'vi', 'fa'],
  sizes: [{ width: 360, height: 640 }],
  schemes: ['light'],
});
