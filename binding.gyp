{
  # The same addon as CMakeLists.txt, for node-gyp: `npx node-gyp rebuild` -> build/Release/nvrelay.node
  "targets": [
    {
      "target_name": "nvrelay",
      "sources": [
        "native/nvram.cpp",
        "native/crc32c.cpp",
        "native/header.cpp",
        "native/direct_device.cpp",
        "native/traced_device.cpp",
        "native/addon.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17"
      }
    }
  ]
}
