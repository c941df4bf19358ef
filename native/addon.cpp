// addon.cpp -- the N-API glue of the nvrelay device: the only file that includes napi.h.
//
// It validates every argument coming from JavaScript (type, integer-ness, range) before
// calling the pure core, and turns every core exception into a JavaScript exception built
// from the classes registered by setErrorClasses (the better-sqlite3 pattern), so that no
// C++ exception ever leaves a callback. The shape is src/nvram/addon-api.ts.
//
// Re-entrancy rule: a raw pointer into a typed array is taken only after every argument
// conversion that can run JavaScript (property getters), so that no script can detach
// or unmap the memory between the check and the use.
#include <napi.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crc32c.h"
#include "direct_device.h"
#include "header.h"
#include "nvram.h"
#include "traced_device.h"

namespace {

using nvram::Code;

const std::string memoryLabel = "memory";

struct AddonData {
  Napi::FunctionReference nvramError;
  Napi::FunctionReference powerCutError;
};

// ---- errors ----

napi_value errorValue(napi_env env, Code code, const std::string& message, const uint64_t* instruction) {
  AddonData* data = Napi::Env(env).GetInstanceData<AddonData>();
  napi_value codeValue, messageValue, result = nullptr;
  napi_create_string_utf8(env, nvram::codeName(code), NAPI_AUTO_LENGTH, &codeValue);
  napi_create_string_utf8(env, message.c_str(), message.size(), &messageValue);
  napi_value instructionValue = nullptr;
  if (instruction != nullptr) {
    napi_create_double(env, static_cast<double>(*instruction), &instructionValue);
  }
  if (data != nullptr && instruction != nullptr && !data->powerCutError.IsEmpty()) {
    napi_value args[2] = {messageValue, instructionValue};
    if (napi_new_instance(env, data->powerCutError.Value(), 2, args, &result) == napi_ok) return result;
    return nullptr;  // the constructor threw: that exception is pending
  }
  if (data != nullptr && !data->nvramError.IsEmpty()) {
    napi_value args[2] = {codeValue, messageValue};
    if (napi_new_instance(env, data->nvramError.Value(), 2, args, &result) == napi_ok) return result;
    return nullptr;
  }
  // Before setErrorClasses: a plain Error with the same `code` (and `instruction`).
  napi_create_error(env, codeValue, messageValue, &result);
  napi_set_named_property(env, result, "code", codeValue);
  if (instructionValue != nullptr) napi_set_named_property(env, result, "instruction", instructionValue);
  return result;
}

// Makes the exception being handled (call only inside a catch block) a pending JS exception.
void throwCurrentException(napi_env env) {
  napi_value error = nullptr;
  try {
    throw;
  } catch (const nvram::PowerCut& e) {
    uint64_t instruction = e.instruction();
    error = errorValue(env, e.code(), e.what(), &instruction);
  } catch (const nvram::Error& e) {
    error = errorValue(env, e.code(), e.what(), nullptr);
  } catch (const Napi::Error& e) {
    napi_throw(env, e.Value());
    return;
  } catch (const std::bad_alloc&) {
    error = errorValue(env, Code::io, "nvram: out of memory", nullptr);
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());  // an assertion: a programmer error
    return;
  } catch (...) {
    napi_throw_error(env, nullptr, "nvram: unknown native exception");
    return;
  }
  if (error != nullptr) napi_throw(env, error);
}

// Runs a method body; any exception becomes a pending JS exception.
template <typename Body>
Napi::Value guarded(napi_env env, Body&& body) {
  try {
    return body();
  } catch (...) {
    throwCurrentException(env);
    return Napi::Value();
  }
}

[[noreturn]] void badArgument(const std::string& label, const std::string& problem) {
  nvram::fail(Code::badArgument, label, problem);
}

// ---- arguments ----

double numberArg(const Napi::Value& value, const char* what, const std::string& label) {
  if (!value.IsNumber()) badArgument(label, std::string(what) + " must be a number");
  return value.As<Napi::Number>().DoubleValue();
}

uint64_t indexArg(const Napi::Value& value, const char* what, const std::string& label) {
  return nvram::checkIndex(numberArg(value, what, label), what, label);
}

bool booleanArg(const Napi::Value& value, const char* what, const std::string& label) {
  if (!value.IsBoolean()) badArgument(label, std::string(what) + " must be a boolean");
  return value.As<Napi::Boolean>().Value();
}

std::string stringArg(const Napi::Value& value, const char* what, const std::string& label) {
  if (!value.IsString()) badArgument(label, std::string(what) + " must be a string");
  std::string text = value.As<Napi::String>().Utf8Value();
  if (text.find('\0') != std::string::npos) badArgument(label, std::string(what) + " contains a NUL");
  return text;
}

std::string pathArg(const Napi::Value& value) {
  std::string path = stringArg(value, "path", "<path>");
  if (path.empty()) badArgument("<path>", "path must not be empty");
  return path;
}

template <typename T>
struct Span {
  T* data;
  uint64_t length;  // elements
};

template <typename T>
Span<T> typedArrayArg(napi_env env, napi_value value, napi_typedarray_type type, const char* typeName,
                      const char* what, const std::string& label) {
  napi_typedarray_type actual;
  size_t length = 0;
  void* data = nullptr;
  // napi_get_typedarray_info fails (napi_invalid_arg, nothing thrown) on anything else.
  if (napi_get_typedarray_info(env, value, &actual, &length, &data, nullptr, nullptr) != napi_ok ||
      actual != type) {
    badArgument(label, std::string(what) + " must be a " + typeName);
  }
  if (data == nullptr) length = 0;  // a detached buffer
  return Span<T>{static_cast<T*>(data), length};
}

Span<uint8_t> bytesArg(const Napi::Value& value, const char* what, const std::string& label) {
  return typedArrayArg<uint8_t>(value.Env(), value, napi_uint8_array, "Uint8Array", what, label);
}

Span<double> float64Arg(const Napi::Value& value, const char* what, const std::string& label) {
  return typedArrayArg<double>(value.Env(), value, napi_float64_array, "Float64Array", what, label);
}

nvram::Model modelArg(const Napi::Value& value) {
  char text[16];
  size_t length = 0;
  if (napi_get_value_string_utf8(value.Env(), value, text, sizeof text, &length) != napi_ok) {
    badArgument(memoryLabel, "model must be a string");
  }
  std::string name(text, length);
  if (name == "px86") return nvram::Model::px86;
  if (name == "relaxed") return nvram::Model::relaxed;
  if (name == "eadr") return nvram::Model::eadr;
  badArgument(memoryLabel, "model must be 'px86', 'relaxed' or 'eadr' (got '" + name + "')");
}

std::vector<nvram::SectionSpec> sectionsArg(const Napi::Value& value, const std::string& label) {
  if (!value.IsArray()) badArgument(label, "sections must be an array");
  Napi::Array array = value.As<Napi::Array>();
  uint32_t count = array.Length();
  if (count > nvram::sectionsMax) {
    nvram::fail(Code::badLayout, label,
                std::to_string(count) + " sections exceed the maximum of " +
                    std::to_string(nvram::sectionsMax));
  }
  std::vector<nvram::SectionSpec> specs;
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value element = array.Get(i);
    if (!element.IsObject()) badArgument(label, "sections[" + std::to_string(i) + "] must be an object");
    Napi::Object object = element.As<Napi::Object>();
    std::string name = stringArg(object.Get("name"), "section name", label);
    uint64_t length = indexArg(object.Get("length"), "section length", label);
    specs.push_back(nvram::SectionSpec{name, length});
  }
  return specs;
}

// ---- results ----

Napi::Object headerObject(Napi::Env env, const nvram::HeaderInfo& info) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("magic", Napi::String::New(env, info.magic));
  result.Set("version", Napi::Number::New(env, info.version));
  result.Set("sizeBytes", Napi::Number::New(env, static_cast<double>(info.sizeBytes)));
  result.Set("deviceId", Napi::BigInt::New(env, info.deviceId));
  result.Set("bootCount", Napi::Number::New(env, static_cast<double>(info.bootCount)));
  Napi::Array sections = Napi::Array::New(env, info.sections.size());
  for (size_t i = 0; i < info.sections.size(); i++) {
    Napi::Object section = Napi::Object::New(env);
    section.Set("name", Napi::String::New(env, info.sections[i].name));
    section.Set("offset", Napi::Number::New(env, static_cast<double>(info.sections[i].offset)));
    section.Set("length", Napi::Number::New(env, static_cast<double>(info.sections[i].length)));
    sections.Set(static_cast<uint32_t>(i), section);
  }
  result.Set("sections", sections);
  return result;
}

Napi::Float64Array float64Copy(Napi::Env env, const std::vector<double>& values) {
  Napi::Float64Array array = Napi::Float64Array::New(env, values.size());
  if (!values.empty()) std::memcpy(array.Data(), values.data(), values.size() * sizeof(double));
  return array;
}

// An ArrayBuffer over memory owned by a shared_ptr: the buffer keeps the memory alive.
template <typename Owner>
Napi::ArrayBuffer externalBuffer(Napi::Env env, void* data, uint64_t length,
                                 const std::shared_ptr<Owner>& owner) {
  auto* keep = new std::shared_ptr<Owner>(owner);
  return Napi::ArrayBuffer::New(
      env, data, length, [](Napi::Env, void*, std::shared_ptr<Owner>* hint) { delete hint; }, keep);
}

// ---- DirectDevice ----

class DirectDevice : public Napi::ObjectWrap<DirectDevice> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "DirectDevice",
                       {InstanceAccessor<&DirectDevice::buffer>("buffer"),
                        InstanceAccessor<&DirectDevice::header>("header"),
                        InstanceAccessor<&DirectDevice::path>("path"),
                        InstanceAccessor<&DirectDevice::durability>("durability"),
                        InstanceMethod<&DirectDevice::msync>("msync"),
                        InstanceMethod<&DirectDevice::msyncAsync>("msyncAsync"),
                        InstanceMethod<&DirectDevice::close>("close")});
  }

  explicit DirectDevice(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DirectDevice>(info) {
    try {
      if (!info.IsConstructCall()) badArgument("<path>", "DirectDevice must be called with new");
      std::string path = pathArg(info[0]);
      std::string durability = stringArg(info[1], "durability", path);
      if (durability != "process" && durability != "power") {
        badArgument(path, "durability must be 'process' or 'power' (got '" + durability + "')");
      }
      device_ = std::make_unique<nvram::DirectDevice>(
          path, durability == "power" ? nvram::Durability::power : nvram::Durability::process);
      const auto& mapping = device_->mapping();
      buffer_ = Napi::Persistent(
          externalBuffer(info.Env(), mapping->address(), mapping->length(), mapping));
    } catch (...) {
      throwCurrentException(info.Env());
      throw Napi::Error::New(info.Env());  // picks up the pending exception
    }
  }

 private:
  Napi::Value buffer(const Napi::CallbackInfo& info) {
    return buffer_.IsEmpty() ? info.Env().Undefined() : buffer_.Value();
  }
  Napi::Value header(const Napi::CallbackInfo& info) {
    return headerObject(info.Env(), device_->header());
  }
  Napi::Value path(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), device_->path());
  }
  Napi::Value durability(const Napi::CallbackInfo& info) {
    bool power = device_->durability() == nvram::Durability::power;
    return Napi::String::New(info.Env(), power ? "power" : "process");
  }

  Napi::Value msync(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const std::string& label = device_->path();
      uint64_t offset = indexArg(info[0], "offset", label);
      uint64_t length = indexArg(info[1], "length", label);
      device_->msync(offset, length);
      return info.Env().Undefined();
    });
  }

  // The msync of msync(offset, length) on a libuv pool thread, so that JavaScript goes on
  // storing meanwhile; onComplete(null | NvramError) is called later on the JavaScript thread.
  // Argument errors and NVRAM_CLOSED are thrown now, as msync throws them.
  Napi::Value msyncAsync(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      const std::string& label = device_->path();
      uint64_t offset = indexArg(info[0], "offset", label);
      uint64_t length = indexArg(info[1], "length", label);
      if (!info[2].IsFunction()) badArgument(label, "onComplete must be a function");
      auto* worker = new MsyncWorker(info.This().As<Napi::Object>(), info[2].As<Napi::Function>(),
                                     device_->issueSync(offset, length));
      worker->Queue();  // deletes itself after OnOK
      return info.Env().Undefined();
    });
  }

  // One issued msync: runs it on a pool thread and reports it on the JavaScript thread. The
  // PageSync it owns keeps the mapping mapped until the msync has run (close waits for it); the
  // receiver, the JS device object, is held only so the device outlives its pending callbacks.
  class MsyncWorker : public Napi::AsyncWorker {
   public:
    MsyncWorker(const Napi::Object& device, const Napi::Function& onComplete,
                std::unique_ptr<nvram::PageSync> sync)
        : Napi::AsyncWorker(device, onComplete, "nvrelay.msync"), sync_(std::move(sync)) {}

   protected:
    void Execute() override { sync_->run(); }

    // The error is built here, not with SetError/OnError, so that it is the NvramError (code
    // NVRAM_IO, the same message) that the synchronous msync throws, not a plain Error.
    void OnOK() override {
      napi_value error = Env().Null();
      try {
        sync_->check();
      } catch (const nvram::Error& e) {
        error = errorValue(Env(), e.code(), e.what(), nullptr);
        if (error == nullptr) return;  // the error class threw: that exception is pending
      }
      Callback().Call(Receiver().Value(), {error});
    }

   private:
    std::unique_ptr<nvram::PageSync> sync_;
  };

  // Detach first, so that no JavaScript view can reach the memory once it is unmapped. A sync
  // issued by msyncAsync and still running is waited for (nvram::Mapping::unmap).
  Napi::Value close(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!device_->closed()) {
        buffer_.Value().Detach();
        device_->close();
      }
      return info.Env().Undefined();
    });
  }

  std::unique_ptr<nvram::DirectDevice> device_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
};

// ---- the instructions: the hot path of traced mode ----
//
// store, flush and fence are called millions of times per second, so they bypass the
// ObjectWrap machinery (napi_unwrap and CallbackInfo cost more than the instruction
// itself): each device gets its own three functions whose callback data owns a share of
// the core, released by the function's finalizer. An extracted function therefore stays
// safe to call after its device object is gone.

struct InstructionData {
  std::shared_ptr<nvram::TracedDevice> device;
};

double rawNumber(napi_env env, napi_value value, const char* what) {
  double number = 0;
  if (napi_get_value_double(env, value, &number) != napi_ok) {
    badArgument(memoryLabel, std::string(what) + " must be a number");
  }
  return number;
}

template <size_t Count>
nvram::TracedDevice* rawArgs(napi_env env, napi_callback_info info, napi_value (&argv)[Count]) {
  size_t argc = Count;
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);  // missing arguments: undefined
  return static_cast<InstructionData*>(data)->device.get();
}

napi_value storeInstruction(napi_env env, napi_callback_info info) {
  try {
    napi_value argv[2];
    nvram::TracedDevice* device = rawArgs(env, info, argv);
    uint64_t offset = nvram::checkIndex(rawNumber(env, argv[0], "offset"), "offset", memoryLabel);
    Span<uint8_t> bytes =
        typedArrayArg<uint8_t>(env, argv[1], napi_uint8_array, "Uint8Array", "bytes", memoryLabel);
    device->store(offset, bytes.data, bytes.length);
  } catch (...) {
    throwCurrentException(env);
  }
  return nullptr;
}

napi_value flushInstruction(napi_env env, napi_callback_info info) {
  try {
    napi_value argv[2];
    nvram::TracedDevice* device = rawArgs(env, info, argv);
    uint64_t offset = nvram::checkIndex(rawNumber(env, argv[0], "offset"), "offset", memoryLabel);
    uint64_t length = nvram::checkIndex(rawNumber(env, argv[1], "length"), "length", memoryLabel);
    device->flush(offset, length);
  } catch (...) {
    throwCurrentException(env);
  }
  return nullptr;
}

napi_value fenceInstruction(napi_env env, napi_callback_info info) {
  try {
    napi_value argv[1];
    rawArgs(env, info, argv)->fence();
  } catch (...) {
    throwCurrentException(env);
  }
  return nullptr;
}

void defineInstructions(Napi::Env env, Napi::Value self,
                        const std::shared_ptr<nvram::TracedDevice>& device) {
  struct Entry {
    const char* name;
    napi_callback callback;
  };
  const Entry entries[] = {{"store", storeInstruction},
                           {"flush", flushInstruction},
                           {"fence", fenceInstruction}};
  for (const Entry& entry : entries) {
    auto* data = new InstructionData{device};
    napi_value function = nullptr;
    napi_status created =
        napi_create_function(env, entry.name, NAPI_AUTO_LENGTH, entry.callback, data, &function);
    if (created != napi_ok) {
      delete data;
      throw Napi::Error::New(env);
    }
    napi_status status = napi_add_finalizer(
        env, function, data,
        [](napi_env, void* owned, void*) { delete static_cast<InstructionData*>(owned); },
        nullptr, nullptr);
    if (status != napi_ok) {
      delete data;
      throw Napi::Error::New(env);
    }
    napi_property_descriptor property{entry.name, nullptr, nullptr,      nullptr,
                                      nullptr,    function, napi_default, nullptr};
    NAPI_THROW_IF_FAILED_VOID(env, napi_define_properties(env, self, 1, &property));
  }
}

// ---- TracedDevice ----

class TracedDevice : public Napi::ObjectWrap<TracedDevice> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(
        env, "TracedDevice",
        {InstanceAccessor<&TracedDevice::buffer>("buffer"),
         InstanceAccessor<&TracedDevice::sizeBytes>("sizeBytes"),
         InstanceAccessor<&TracedDevice::instructionCount>("instructionCount"),
         InstanceAccessor<&TracedDevice::poweredOff>("poweredOff"),
         InstanceMethod<&TracedDevice::setPowerCut>("setPowerCut"),
         InstanceMethod<&TracedDevice::fenceIssue>("fenceIssue"),
         InstanceMethod<&TracedDevice::fenceComplete>("fenceComplete"),
         InstanceMethod<&TracedDevice::imageCount>("imageCount"),
         InstanceMethod<&TracedDevice::pendingStores>("pendingStores"),
         InstanceMethod<&TracedDevice::survivorsByIndex>("survivorsByIndex"),
         InstanceMethod<&TracedDevice::survivorsBySeed>("survivorsBySeed"),
         InstanceMethod<&TracedDevice::allows>("allows"),
         InstanceMethod<&TracedDevice::buildImage>("buildImage"),
         InstanceMethod<&TracedDevice::buildDurableImage>("buildDurableImage"),
         InstanceMethod<&TracedDevice::flipBits>("flipBits"),
         InstanceMethod<&TracedDevice::loseDevice>("loseDevice"),
         InstanceMethod<&TracedDevice::boot>("boot"),
         InstanceMethod<&TracedDevice::exportTrace>("exportTrace"),
         InstanceMethod<&TracedDevice::applyTrace>("applyTrace"),
         InstanceMethod<&TracedDevice::close>("close")});
  }

  ~TracedDevice() override {
    if (footprintBytes_ != 0) napi_adjust_external_memory(Env(), -footprintBytes_, nullptr);
  }

  explicit TracedDevice(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TracedDevice>(info) {
    try {
      if (!info.IsConstructCall()) badArgument(memoryLabel, "TracedDevice must be called with new");
      bool record = booleanArg(info[1], "record", memoryLabel);
      Span<uint8_t> image = bytesArg(info[0], "image", memoryLabel);
      device_ = std::make_shared<nvram::TracedDevice>(image.data, image.length, record);
      const auto& memory = device_->volatileImage();
      buffer_ = Napi::Persistent(
          externalBuffer(info.Env(), memory->data(), device_->sizeBytes(), memory));
      defineInstructions(info.Env(), info.This(), device_);
      // Two images plus the line index live outside V8's heap: tell its GC about them.
      footprintBytes_ = static_cast<int64_t>(device_->sizeBytes() * 2 + device_->sizeBytes() / 2);
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), footprintBytes_);
    } catch (...) {
      throwCurrentException(info.Env());
      throw Napi::Error::New(info.Env());
    }
  }

 private:
  Napi::Value buffer(const Napi::CallbackInfo&) { return buffer_.Value(); }
  Napi::Value sizeBytes(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(device_->sizeBytes()));
  }
  Napi::Value instructionCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(device_->instructionCount()));
  }
  Napi::Value poweredOff(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), device_->poweredOff());
  }

  Napi::Value setPowerCut(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      device_->setPowerCut(numberArg(info[0], "power cut instruction", memoryLabel));
      return info.Env().Undefined();
    });
  }

  // The asynchronous fence's two instructions (rare: not on the raw hot path).
  Napi::Value fenceIssue(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), static_cast<double>(device_->fenceIssue()));
    });
  }

  Napi::Value fenceComplete(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      device_->fenceComplete(indexArg(info[0], "fence issue instruction", memoryLabel));
      return Napi::Value();
    });
  }

  Napi::Value imageCount(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), device_->imageCount(modelArg(info[0])));
    });
  }

  Napi::Value pendingStores(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      size_t n = device_->nonDurableCount();
      Napi::Float64Array ids = Napi::Float64Array::New(env, n);
      Napi::Float64Array instructions = Napi::Float64Array::New(env, n);
      Napi::Float64Array offsets = Napi::Float64Array::New(env, n);
      Napi::Uint8Array states = Napi::Uint8Array::New(env, n);
      device_->nonDurableStores(ids.Data(), instructions.Data(), offsets.Data(), states.Data());
      Napi::Object result = Napi::Object::New(env);
      result.Set("ids", ids);
      result.Set("instructions", instructions);
      result.Set("offsets", offsets);
      result.Set("states", states);
      return result;
    });
  }

  Napi::Value survivorsByIndex(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      nvram::Model model = modelArg(info[0]);
      double index = numberArg(info[1], "image index", memoryLabel);
      return float64Copy(info.Env(), device_->survivorsByIndex(model, index));
    });
  }

  Napi::Value survivorsBySeed(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      nvram::Model model = modelArg(info[0]);
      double seed = numberArg(info[1], "seed", memoryLabel);
      return float64Copy(info.Env(), device_->survivorsBySeed(model, seed));
    });
  }

  Napi::Value allows(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      nvram::Model model = modelArg(info[0]);
      Span<double> ids = float64Arg(info[1], "survivor ids", memoryLabel);
      return Napi::Boolean::New(info.Env(), device_->allows(model, ids.data, ids.length));
    });
  }

  Napi::Value buildImage(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Span<double> ids = float64Arg(info[0], "survivor ids", memoryLabel);
      Span<uint8_t> out = bytesArg(info[1], "out", memoryLabel);
      device_->buildImage(ids.data, ids.length, out.data, out.length);
      return Napi::Value();
    });
  }

  Napi::Value buildDurableImage(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Span<uint8_t> out = bytesArg(info[0], "out", memoryLabel);
      device_->buildDurableImage(out.data, out.length);
      return Napi::Value();
    });
  }

  Napi::Value flipBits(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      uint64_t offset = indexArg(info[0], "offset", memoryLabel);
      uint64_t length = indexArg(info[1], "length", memoryLabel);
      uint64_t count = indexArg(info[2], "count", memoryLabel);
      double seed = numberArg(info[3], "seed", memoryLabel);
      device_->flipBits(offset, length, count, seed);
      return Napi::Value();
    });
  }

  Napi::Value loseDevice(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      device_->loseDevice();
      return Napi::Value();
    });
  }

  Napi::Value boot(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      return Napi::Number::New(info.Env(), static_cast<double>(device_->boot()));
    });
  }

  Napi::Value exportTrace(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      Napi::Env env = info.Env();
      const nvram::Trace& trace = device_->trace();
      size_t n = trace.records.size();
      Napi::Uint8Array kinds = Napi::Uint8Array::New(env, n);
      Napi::Float64Array offsets = Napi::Float64Array::New(env, n);
      Napi::Float64Array lengths = Napi::Float64Array::New(env, n);
      Napi::Float64Array dataOffsets = Napi::Float64Array::New(env, n);
      Napi::Uint8Array data = Napi::Uint8Array::New(env, trace.data.size());
      for (size_t i = 0; i < n; i++) {
        const nvram::TraceRecord& record = trace.records[i];
        kinds[i] = record.kind;
        offsets[i] = static_cast<double>(record.offset);
        lengths[i] = static_cast<double>(record.length);
        dataOffsets[i] = static_cast<double>(record.dataOffset);
      }
      if (!trace.data.empty()) std::memcpy(data.Data(), trace.data.data(), trace.data.size());
      Napi::Object result = Napi::Object::New(env);
      result.Set("kinds", kinds);
      result.Set("offsets", offsets);
      result.Set("lengths", lengths);
      result.Set("dataOffsets", dataOffsets);
      result.Set("data", data);
      return result;
    });
  }

  Napi::Value applyTrace(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!info[0].IsObject()) badArgument(memoryLabel, "trace must be an object");
      Napi::Object object = info[0].As<Napi::Object>();
      uint64_t from = indexArg(info[1], "from", memoryLabel);
      uint64_t to = indexArg(info[2], "to", memoryLabel);
      // All property reads (which may run getters) before any pointer is taken.
      Napi::Value kindsValue = object.Get("kinds"), offsetsValue = object.Get("offsets"),
                  lengthsValue = object.Get("lengths"), dataOffsetsValue = object.Get("dataOffsets"),
                  dataValue = object.Get("data");
      Span<uint8_t> kinds = bytesArg(kindsValue, "trace.kinds", memoryLabel);
      Span<double> offsets = float64Arg(offsetsValue, "trace.offsets", memoryLabel);
      Span<double> lengths = float64Arg(lengthsValue, "trace.lengths", memoryLabel);
      Span<double> dataOffsets = float64Arg(dataOffsetsValue, "trace.dataOffsets", memoryLabel);
      Span<uint8_t> data = bytesArg(dataValue, "trace.data", memoryLabel);
      if (offsets.length < kinds.length || lengths.length < kinds.length ||
          dataOffsets.length < kinds.length) {
        badArgument(memoryLabel, "trace arrays are shorter than trace.kinds");
      }
      nvram::TraceView view{kinds.data, offsets.data, lengths.data, dataOffsets.data,
                            kinds.length, data.data, data.length};
      device_->applyTrace(view, from, to);
      return Napi::Value();
    });
  }

  // An extension of addon-api.ts: frees the images now instead of at a finalizer, which
  // Node runs only once the event loop turns. Detach first, then free (like DirectDevice).
  Napi::Value close(const Napi::CallbackInfo& info) {
    return guarded(info.Env(), [&]() -> Napi::Value {
      if (!device_->closed()) {
        buffer_.Value().Detach();
        device_->close();
        Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -footprintBytes_);
        footprintBytes_ = 0;
      }
      return Napi::Value();
    });
  }

  std::shared_ptr<nvram::TracedDevice> device_;
  Napi::Reference<Napi::ArrayBuffer> buffer_;
  int64_t footprintBytes_ = 0;
};

// ---- module functions ----

Napi::Value setErrorClasses(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    if (!info[0].IsFunction() || !info[1].IsFunction()) {
      badArgument(memoryLabel, "setErrorClasses needs two constructors");
    }
    AddonData* data = info.Env().GetInstanceData<AddonData>();
    data->nvramError = Napi::Persistent(info[0].As<Napi::Function>());
    data->powerCutError = Napi::Persistent(info[1].As<Napi::Function>());
    return info.Env().Undefined();
  });
}

Napi::Value crc32c(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    bool hasOffset = !info[1].IsUndefined(), hasLength = !info[2].IsUndefined();
    uint64_t offset = hasOffset ? indexArg(info[1], "offset", memoryLabel) : 0;
    uint64_t length = hasLength ? indexArg(info[2], "length", memoryLabel) : 0;
    uint64_t seed = info[3].IsUndefined() ? 0 : indexArg(info[3], "seed", memoryLabel);
    if (seed > UINT32_MAX) badArgument(memoryLabel, "seed must be a 32-bit unsigned integer");
    Span<uint8_t> bytes = bytesArg(info[0], "bytes", memoryLabel);
    if (!hasLength) length = offset <= bytes.length ? bytes.length - offset : 0;
    nvram::checkRange(offset, length, bytes.length, memoryLabel);
    uint32_t crc = nvram::crc32c(bytes.data + offset, length, static_cast<uint32_t>(seed));
    return Napi::Number::New(info.Env(), crc);
  });
}

Napi::Value format(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::string path = pathArg(info[0]);
    uint64_t sizeBytes = indexArg(info[1], "sizeBytes", path);
    std::vector<nvram::SectionSpec> sections = sectionsArg(info[2], path);
    bool force = booleanArg(info[3], "force", path);
    return headerObject(info.Env(), nvram::formatFile(path, sizeBytes, sections, force));
  });
}

Napi::Value formatImage(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::vector<nvram::SectionSpec> sections = sectionsArg(info[1], memoryLabel);
    if (!info[2].IsBigInt()) badArgument(memoryLabel, "deviceId must be a bigint");
    bool lossless = false;
    uint64_t deviceId = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) badArgument(memoryLabel, "deviceId must be a bigint in [0, 2^64)");
    Span<uint8_t> out = bytesArg(info[0], "out", memoryLabel);  // last: no script runs after
    std::vector<nvram::SectionInfo> layout =
        nvram::header::layoutSections(out.length, sections, memoryLabel);
    std::memset(out.data, 0, out.length);
    return headerObject(info.Env(), nvram::header::format(out.data, out.length, deviceId, layout));
  });
}

Napi::Value parseHeader(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    std::string label = stringArg(info[1], "label", memoryLabel);
    Span<uint8_t> image = bytesArg(info[0], "image", label);
    return headerObject(info.Env(), nvram::header::parse(image.data, image.length, label));
  });
}

Napi::Value bootImage(const Napi::CallbackInfo& info) {
  return guarded(info.Env(), [&]() -> Napi::Value {
    Span<uint8_t> image = bytesArg(info[0], "image", memoryLabel);
    nvram::HeaderInfo header = nvram::header::parse(image.data, image.length, memoryLabel);
    nvram::header::BootSlotStore store = nvram::header::nextBoot(image.data, header.deviceId);
    std::memcpy(image.data + store.offset, store.bytes, sizeof store.bytes);
    nvram::verify(nvram::header::bootCount(image.data, header.deviceId) == store.bootCount,
                  "boot slot reads back");
    return Napi::Number::New(info.Env(), static_cast<double>(store.bootCount));
  });
}

Napi::Object init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("setErrorClasses", Napi::Function::New(env, setErrorClasses, "setErrorClasses"));
  exports.Set("crc32c", Napi::Function::New(env, crc32c, "crc32c"));
  exports.Set("format", Napi::Function::New(env, format, "format"));
  exports.Set("formatImage", Napi::Function::New(env, formatImage, "formatImage"));
  exports.Set("parseHeader", Napi::Function::New(env, parseHeader, "parseHeader"));
  exports.Set("bootImage", Napi::Function::New(env, bootImage, "bootImage"));
  exports.Set("DirectDevice", DirectDevice::define(env));
  exports.Set("TracedDevice", TracedDevice::define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(nvrelay, init)
