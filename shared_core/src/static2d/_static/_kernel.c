/* The static path's compiled kernel: mean pooling of token vectors, with the GIL released.

   pool(table, ids, slots, dims, out): for each text (its `slots[i]` ids, text after text in `ids`), the first
   `dims` components of its rows of `table` are added in token order into a float32 accumulator, starting from
   zero, and divided by the token count (a text without tokens gives zeros). This is exactly the sequential float32
   sum numpy makes over axis 0 of `table[ids]` (and so model2vec's np.mean): each component is summed on its own, in
   the same order, with no reassociation (no -ffast-math, no FMA: only additions and one division), so the vectors
   are bit-identical to the numpy path's whatever the instruction set.

   Buffers come through the buffer protocol (no numpy headers): the table any C-contiguous float32 2D buffer (a
   memory map will do), ids and slots C-contiguous int64, out a writable C-contiguous float32 (texts, dims)
   buffer. An id outside the table is an IndexError, and `out` is then not to be used. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
/* One build runs everywhere, with AVX2 where the CPU has it (chosen once, at load). Additions only, lane by
   lane: the same results either way. */
#define S2D_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define S2D_CLONES
#endif

/* Sum the rows `ids[0:n]` (first `dims` components, row stride `stride`) into acc, in order; -1 on a bad id,
   with *bad set to it. */
S2D_CLONES
static int sum_rows(const float *table, Py_ssize_t rows, Py_ssize_t stride, const int64_t *ids, Py_ssize_t n,
                    Py_ssize_t dims, float *restrict acc, int64_t *bad) {
    for (Py_ssize_t d = 0; d < dims; d++) acc[d] = 0.0f;
    for (Py_ssize_t j = 0; j < n; j++) {
        int64_t id = ids[j];
        if (id < 0 || id >= rows) {
            *bad = id;
            return -1;
        }
        const float *restrict row = table + (size_t)id * (size_t)stride;
#if defined(__GNUC__)
        /* the row two tokens ahead, on its way from memory while this one is added (ids checked when used) */
        if (j + 2 < n && ids[j + 2] >= 0 && ids[j + 2] < rows) {
            const char *next = (const char *)(table + (size_t)ids[j + 2] * (size_t)stride);
            for (Py_ssize_t b = 0; b < dims * 4; b += 64) __builtin_prefetch(next + b);
        }
#endif
        for (Py_ssize_t d = 0; d < dims; d++) acc[d] += row[d];
    }
    return 0;
}

static int check_ints(Py_buffer *b, const char *name) {
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') f++;
    if (b->ndim != 1 || b->itemsize != 8 || !(strcmp(f, "l") == 0 || strcmp(f, "q") == 0)) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous 1D int64 buffer", name);
        return -1;
    }
    return 0;
}

static int check_floats(Py_buffer *b, const char *name) {
    const char *f = b->format ? b->format : "B";
    if (*f == '@' || *f == '=' || *f == '<') f++;
    if (b->ndim != 2 || b->itemsize != 4 || strcmp(f, "f") != 0) {
        PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous 2D float32 buffer", name);
        return -1;
    }
    return 0;
}

static PyObject *kernel_pool(PyObject *self, PyObject *args) {
    PyObject *table_o, *ids_o, *slots_o, *out_o;
    Py_ssize_t dims;
    if (!PyArg_ParseTuple(args, "OOOnO:pool", &table_o, &ids_o, &slots_o, &dims, &out_o)) return NULL;
    Py_buffer table = {0}, ids = {0}, slots = {0}, out = {0};
    PyObject *result = NULL;
    if (PyObject_GetBuffer(table_o, &table, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(ids_o, &ids, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(slots_o, &slots, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) goto done;
    if (PyObject_GetBuffer(out_o, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) goto done;
    if (check_floats(&table, "table") < 0 || check_floats(&out, "out") < 0) goto done;
    if (check_ints(&ids, "ids") < 0 || check_ints(&slots, "slots") < 0) goto done;
    Py_ssize_t rows = table.shape[0], stride = table.shape[1];
    Py_ssize_t n = slots.shape[0], total_ids = ids.shape[0];
    if (dims < 1 || dims > stride || out.shape[0] != n || out.shape[1] != dims) {
        PyErr_SetString(PyExc_ValueError, "pool: dims must be 1..table columns, out (texts, dims)");
        goto done;
    }
    const float *tab = (const float *)table.buf;
    const int64_t *idp = (const int64_t *)ids.buf, *sl = (const int64_t *)slots.buf;
    float *o = (float *)out.buf;
    /* the slots must cover exactly the ids */
    Py_ssize_t sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (sl[i] < 0 || sl[i] > total_ids - sum) {
            PyErr_SetString(PyExc_ValueError, "pool: slots do not fit the ids");
            goto done;
        }
        sum += (Py_ssize_t)sl[i];
    }
    if (sum != total_ids) {
        PyErr_SetString(PyExc_ValueError, "pool: slots do not add up to the ids");
        goto done;
    }
    int64_t bad = 0;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n && !failed; i++) {
        Py_ssize_t k = (Py_ssize_t)sl[i];
        float *acc = o + (size_t)i * (size_t)dims;
        if (sum_rows(tab, rows, stride, idp + at, k, dims, acc, &bad) < 0) {
            failed = 1;
            break;
        }
        if (k > 1) {
            float count = (float)k;
            for (Py_ssize_t d = 0; d < dims; d++) acc[d] = acc[d] / count;
        }
        at += k;
    }
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_Format(PyExc_IndexError, "pool: token id %lld is outside the table's %zd rows", (long long)bad, rows);
        goto done;
    }
    result = Py_None;
    Py_INCREF(result);
done:
    if (table.obj) PyBuffer_Release(&table);
    if (ids.obj) PyBuffer_Release(&ids);
    if (slots.obj) PyBuffer_Release(&slots);
    if (out.obj) PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"pool", kernel_pool, METH_VARARGS,
     "pool(table, ids, slots, dims, out): each text's mean of its rows' first dims components, into out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernel", "static2d's compiled static-path kernel.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernel(void) { return PyModule_Create(&module); }
