// Run by `npm install` when the native journal addon (binding.gyp, native/privtrak_mmap.c) did not
// build: privtrak still installs and runs, with the journal written by write(2) instead of mmap.
console.warn(
  'privtrak: the native mmap addon did not build (needs python3, make and a C compiler).\n' +
    'privtrak: it still works: the journal falls back to one write(2) per commit ("journal_io: write").',
);
