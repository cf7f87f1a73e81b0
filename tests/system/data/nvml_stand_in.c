/* A stand-in libnvidia-ml.so.1 speaking NVML's documented C API (nvml.h) for three devices:
   gpu0 answers everything; gpu1 is a MIG/vGPU slice that answers NVML_ERROR_NOT_SUPPORTED (3)
   for utilisation and temperature; gpu2 answers NVML_ERROR_GPU_IS_LOST (15) for its handle. */
#include <stdio.h>

typedef struct { unsigned long long total, free, used; } nvmlMemory_t;
typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
static int handles[3];

int nvmlInitWithFlags(unsigned int flags) { (void)flags; return 0; }
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
const char *nvmlErrorString(int r) {
    return r == 3 ? "Not Supported" : r == 15 ? "GPU is lost" : "Unknown Error";
}
int nvmlDeviceGetCount_v2(unsigned int *count) { *count = 3; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **h) {
    if (i >= 2) return 15;
    *h = &handles[i];
    return 0;
}
int nvmlDeviceGetName(void *h, char *name, unsigned int len) {
    snprintf(name, len, "Stand-in GPU %d", (int)((int *)h - handles));
    return 0;
}
int nvmlDeviceGetMemoryInfo(void *h, nvmlMemory_t *m) {
    (void)h;
    m->total = 80ULL << 30; m->used = 1ULL << 30; m->free = m->total - m->used;
    return 0;
}
int nvmlDeviceGetUtilizationRates(void *h, nvmlUtilization_t *u) {
    if (h == &handles[1]) return 3;
    u->gpu = 37; u->memory = 5;
    return 0;
}
int nvmlDeviceGetTemperature(void *h, int sensor, unsigned int *t) {
    (void)sensor;
    if (h == &handles[1]) return 3;
    *t = 41;
    return 0;
}
