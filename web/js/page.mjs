// Pages with nothing to do but speak the person's language (404.html).
import { initI18n, mountLanguagePicker } from './i18n.mjs';

await initI18n();
mountLanguagePicker(document.getElementById('lang-select'));
