{
  "targets": [
    {
      "target_name": "privtrak_mmap",
      "sources": ["native/privtrak_mmap.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
