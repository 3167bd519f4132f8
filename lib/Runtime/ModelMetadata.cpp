//===- ModelMetadata.cpp - The model metadata reader of libslmrt ----------===//
//
// Part of the slm project: a compiler for compressed transformer models.
//
//===----------------------------------------------------------------------===//

#include "ModelMetadata.h"

#include <cerrno>
#include <cstdlib>

using namespace mlir::slm::runtime;

namespace {

/// The deepest nesting of objects and arrays the reader follows.
constexpr int kMaxDepth = 32;

/// A minimal JSON reader (objects, arrays, strings, integers) for the
/// metadata slmc writes; unknown members are skipped.
class Reader {
public:
  explicit Reader(const char *text) : p(text) {}

  bool model(std::vector<TensorInfo> &inputs, std::vector<TensorInfo> &outputs,
             int64_t &abi) {
    bool ok = object([&](const std::string &key) {
      if (key == "abi")
        return integer(abi);
      if (key == "inputs")
        return tensors(inputs);
      if (key == "outputs")
        return tensors(outputs);
      return skip();
    });
    if (!ok)
      return false; // `p` may stand anywhere, even past the NUL
    space();
    return *p == '\0';
  }

private:
  const char *p;
  int depth = 0;

  void space() {
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
      ++p;
  }
  bool expect(char c) {
    space();
    if (*p != c)
      return false;
    ++p;
    return true;
  }
  static int hexDigit(char c) {
    if (c >= '0' && c <= '9')
      return c - '0';
    if (c >= 'a' && c <= 'f')
      return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
      return c - 'A' + 10;
    return -1;
  }
  bool hex4(uint32_t &out) {
    out = 0;
    for (int i = 0; i < 4; ++i) {
      int d = hexDigit(p[i]); // stops at the NUL: it is no digit
      if (d < 0)
        return false;
      out = out * 16 + static_cast<uint32_t>(d);
    }
    p += 4;
    return true;
  }
  static void appendUtf8(std::string &out, uint32_t c) {
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  bool escape(std::string &out) {
    if (*p == '\0')
      return false; // a backslash at the end of the text
    char c = *p++;
    switch (c) {
    case '"':
    case '\\':
    case '/':
      out += c;
      return true;
    case 'b':
      out += '\b';
      return true;
    case 'f':
      out += '\f';
      return true;
    case 'n':
      out += '\n';
      return true;
    case 'r':
      out += '\r';
      return true;
    case 't':
      out += '\t';
      return true;
    case 'u': {
      uint32_t code;
      if (!hex4(code))
        return false;
      if (code >= 0xD800 && code < 0xDC00) {
        uint32_t low;
        if (p[0] != '\\' || p[1] != 'u')
          return false;
        p += 2;
        if (!hex4(low) || low < 0xDC00 || low >= 0xE000)
          return false;
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      } else if (code >= 0xDC00 && code < 0xE000) {
        return false;
      }
      appendUtf8(out, code);
      return true;
    }
    default:
      return false; // includes the NUL after a trailing backslash
    }
  }
  bool string(std::string &out) {
    space();
    if (*p != '"')
      return false;
    ++p;
    out.clear();
    while (*p && *p != '"') {
      if (*p == '\\') {
        ++p;
        if (!escape(out))
          return false;
      } else {
        out += *p++;
      }
    }
    return expect('"');
  }
  bool integer(int64_t &out) {
    space();
    if (*p != '-' && (*p < '0' || *p > '9'))
      return false;
    char *end = nullptr;
    errno = 0;
    long long v = std::strtoll(p, &end, 10);
    if (end == p || errno == ERANGE)
      return false;
    out = v;
    p = end;
    return true;
  }
  /// Guards the nesting depth around one object or array.
  template <typename Fn> bool nested(Fn &&body) {
    if (++depth > kMaxDepth)
      return false;
    bool ok = body();
    --depth;
    return ok;
  }
  template <typename Fn> bool object(Fn &&member) {
    return nested([&] {
      if (!expect('{'))
        return false;
      space();
      if (*p == '}')
        return ++p, true;
      do {
        std::string key;
        if (!string(key) || !expect(':') || !member(key))
          return false;
      } while (expect(','));
      return expect('}');
    });
  }
  template <typename Fn> bool array(Fn &&element) {
    return nested([&] {
      if (!expect('['))
        return false;
      space();
      if (*p == ']')
        return ++p, true;
      do {
        if (!element())
          return false;
      } while (expect(','));
      return expect(']');
    });
  }
  bool skip() {
    space();
    if (*p == '"') {
      std::string s;
      return string(s);
    }
    if (*p == '{')
      return object([&](const std::string &) { return skip(); });
    if (*p == '[')
      return array([&] { return skip(); });
    int64_t v;
    return integer(v);
  }
  bool dtype(slm_dtype &out) {
    std::string d;
    if (!string(d))
      return false;
#define SLM_DTYPE_FROM_NAME(enumerator, value, name, bytes)                    \
  if (d == name) {                                                             \
    out = enumerator;                                                          \
    return true;                                                               \
  }
    SLM_DTYPE_LIST(SLM_DTYPE_FROM_NAME)
#undef SLM_DTYPE_FROM_NAME
    return false;
  }
  bool tensors(std::vector<TensorInfo> &out) {
    return array([&] {
      TensorInfo info;
      bool ok = object([&](const std::string &key) {
        if (key == "name")
          return string(info.name);
        if (key == "dtype")
          return dtype(info.dtype);
        if (key == "shape")
          return array([&] {
            int64_t v;
            if (!integer(v) || v < -1 || info.shape.size() >= SLM_MAX_RANK)
              return false;
            info.shape.push_back(v);
            return true;
          });
        if (key == "dims")
          return array([&] {
            std::string d;
            if (!string(d) || info.dims.size() >= SLM_MAX_RANK)
              return false;
            info.dims.push_back(std::move(d));
            return true;
          });
        return skip();
      });
      if (!ok || info.dims.size() > info.shape.size())
        return false;
      info.dims.resize(info.shape.size());
      out.push_back(std::move(info));
      return true;
    });
  }
};

} // namespace

bool mlir::slm::runtime::parseModelMetadata(const char *text,
                                            std::vector<TensorInfo> &inputs,
                                            std::vector<TensorInfo> &outputs,
                                            int64_t &abi) {
  if (!text)
    return false;
  inputs.clear();
  outputs.clear();
  return Reader(text).model(inputs, outputs, abi);
}
