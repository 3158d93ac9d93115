/* Loads a SavedModel with TensorFlow's C API and runs its session for tests/tf_serving.py.
 *
 * TF_LoadSessionFromSavedModel is the C face of tensorflow/cc/saved_model/loader.cc's
 * LoadSavedModel, the loader TF Serving links: the `serve` MetaGraph imported into a session,
 * the variables restored, the init op run with the asset files. tests/tf_serving.py compiles
 * this file with gcc against the headers and libraries of the installed TensorFlow wheel.
 *
 *   tf_serving_loader SAVED_MODEL_DIR
 *
 * Exits 1 with TensorFlow's message on stderr when the model does not load; otherwise writes
 * "ok\n" and answers session runs read from stdin until it closes. Little-endian binary:
 *   request:  u32 feeds, u32 fetches; per feed: name, u32 dtype, u32 rank, i64 dims[rank],
 *             values; per fetch: name.  (name: u32 length + bytes)
 *   values:   strings (TF_STRING): per element u32 length + bytes; others: u64 bytes + data
 *   response: u32 0 and per fetch: u32 dtype, u32 rank, i64 dims[rank], values;
 *             or u32 1 and u32 length + TensorFlow's error message.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/tf_tstring.h"

static int read_exact(void *buffer, size_t size) {
  return size == 0 || fread(buffer, 1, size, stdin) == size;
}

static uint32_t read_u32(void) {
  uint32_t value = 0;
  if (!read_exact(&value, sizeof value)) exit(0); /* stdin closed: done */
  return value;
}

static char *read_name(void) {
  uint32_t length = read_u32();
  char *name = calloc(length + 1, 1);
  if (!read_exact(name, length)) exit(2);
  return name;
}

static void write_all(const void *data, size_t size) { fwrite(data, 1, size, stdout); }

static void write_u32(uint32_t value) { write_all(&value, sizeof value); }

static int64_t elements(const int64_t *dims, int rank) {
  int64_t count = 1;
  for (int i = 0; i < rank; i++) count *= dims[i];
  return count;
}

static TF_Output output_for(TF_Graph *graph, const char *tensor_name, TF_Status *status) {
  /* "op:index", as a SignatureDef names tensors */
  char *name = strdup(tensor_name);
  char *colon = strrchr(name, ':');
  int index = 0;
  if (colon != NULL) {
    index = atoi(colon + 1);
    *colon = '\0';
  }
  TF_Output output = {TF_GraphOperationByName(graph, name), index};
  if (output.oper == NULL) {
    TF_SetStatus(status, TF_NOT_FOUND, "no such tensor in the graph");
  }
  free(name);
  return output;
}

static TF_Tensor *read_tensor(void) {
  TF_DataType dtype = (TF_DataType)read_u32();
  uint32_t rank = read_u32();
  int64_t *dims = calloc(rank ? rank : 1, sizeof(int64_t));
  if (!read_exact(dims, rank * sizeof(int64_t))) exit(2);
  int64_t count = elements(dims, (int)rank);
  TF_Tensor *tensor;
  if (dtype == TF_STRING) {
    tensor = TF_AllocateTensor(TF_STRING, dims, (int)rank, count * sizeof(TF_TString));
    TF_TString *strings = (TF_TString *)TF_TensorData(tensor);
    for (int64_t i = 0; i < count; i++) {
      uint32_t length = read_u32();
      char *bytes = malloc(length ? length : 1);
      if (!read_exact(bytes, length)) exit(2);
      TF_StringInit(&strings[i]);
      TF_StringCopy(&strings[i], bytes, length);
      free(bytes);
    }
  } else {
    uint64_t size = 0;
    if (!read_exact(&size, sizeof size)) exit(2);
    tensor = TF_AllocateTensor(dtype, dims, (int)rank, size);
    if (!read_exact(TF_TensorData(tensor), size)) exit(2);
  }
  free(dims);
  return tensor;
}

static void write_tensor(const TF_Tensor *tensor) {
  TF_DataType dtype = TF_TensorType(tensor);
  int rank = TF_NumDims(tensor);
  write_u32((uint32_t)dtype);
  write_u32((uint32_t)rank);
  int64_t count = 1;
  for (int i = 0; i < rank; i++) {
    int64_t dim = TF_Dim(tensor, i);
    write_all(&dim, sizeof dim);
    count *= dim;
  }
  if (dtype == TF_STRING) {
    const TF_TString *strings = (const TF_TString *)TF_TensorData(tensor);
    for (int64_t i = 0; i < count; i++) {
      write_u32((uint32_t)TF_StringGetSize(&strings[i]));
      write_all(TF_StringGetDataPointer(&strings[i]), TF_StringGetSize(&strings[i]));
    }
  } else {
    uint64_t size = TF_TensorByteSize(tensor);
    write_all(&size, sizeof size);
    write_all(TF_TensorData(tensor), size);
  }
}

static void write_error(const char *message) {
  write_u32(1);
  write_u32((uint32_t)strlen(message));
  write_all(message, strlen(message));
  fflush(stdout);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s SAVED_MODEL_DIR\n", argv[0]);
    return 2;
  }
  TF_Status *status = TF_NewStatus();
  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Session *session = TF_LoadSessionFromSavedModel(options, NULL, argv[1], tags, 1, graph,
                                                     NULL, status);
  if (TF_GetCode(status) != TF_OK) {
    fprintf(stderr, "%s\n", TF_Message(status));
    return 1;
  }
  fputs("ok\n", stdout);
  fflush(stdout);
  for (;;) {
    uint32_t feeds = read_u32(), fetches = read_u32();
    TF_Output *inputs = calloc(feeds ? feeds : 1, sizeof(TF_Output));
    TF_Tensor **values = calloc(feeds ? feeds : 1, sizeof(TF_Tensor *));
    TF_Output *outputs = calloc(fetches ? fetches : 1, sizeof(TF_Output));
    TF_Tensor **results = calloc(fetches ? fetches : 1, sizeof(TF_Tensor *));
    TF_SetStatus(status, TF_OK, "");
    for (uint32_t i = 0; i < feeds; i++) {
      char *name = read_name();
      values[i] = read_tensor();
      if (TF_GetCode(status) == TF_OK) inputs[i] = output_for(graph, name, status);
      free(name);
    }
    for (uint32_t i = 0; i < fetches; i++) {
      char *name = read_name();
      if (TF_GetCode(status) == TF_OK) outputs[i] = output_for(graph, name, status);
      free(name);
    }
    if (TF_GetCode(status) == TF_OK) {
      TF_SessionRun(session, NULL, inputs, values, (int)feeds, outputs, results, (int)fetches,
                    NULL, 0, NULL, status);
    }
    if (TF_GetCode(status) != TF_OK) {
      write_error(TF_Message(status));
    } else {
      write_u32(0);
      for (uint32_t i = 0; i < fetches; i++) {
        write_tensor(results[i]);
        TF_DeleteTensor(results[i]);
      }
      fflush(stdout);
    }
    for (uint32_t i = 0; i < feeds; i++) TF_DeleteTensor(values[i]);
    free(inputs);
    free(values);
    free(outputs);
    free(results);
  }
}
