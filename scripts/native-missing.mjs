// Run by `npm install` when privtrak's native addon (binding.gyp, native/privtrak_native.c) did not
// build: privtrak still installs and runs, with the journal written by write(2) instead of mmap and
// HTTP replies followed by a separate FIN.
console.warn(
  'privtrak: the native addon did not build (needs python3, make and a C compiler).\n' +
    'privtrak: it still works: the journal falls back to one write(2) per commit ("journal_io: write").',
);
