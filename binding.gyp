{
  "targets": [
    {
      "target_name": "privtrak_native",
      "sources": ["native/privtrak_native.c", "native/udp_batch.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
