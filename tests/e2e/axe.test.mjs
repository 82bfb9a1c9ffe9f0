// End to end: axe-core checks every page a person sees against the WCAG 2.1 A and AA rules
// (tests/lib/axesuite.mjs), in English and in Arabic (right to left), on a 360 x 640 phone and
// a 1280 x 800 laptop, in the light and the dark colours. The other eight languages:
// axe-languages.test.mjs.
import { axeSuite } from '../lib/axesuite.mjs';

axeSuite(import.meta.url, {
  langs: ['en', 'ar'],
  sizes: [{ width: 360, height: 640 }, { width: 1280, height: 800 }],
  schemes: ['light', 'dark'],
});
