/* Request messages straight into columns: the compiled path of streams.offline.columnar.

   decode(values, keys) reads a batch of messages, each one JSON object or each one non-empty
   JSON array of objects, and returns the fields the SLOs read as columns:

       (ends, ts, status, latency_ms, service, extra)

   ends: the event count after each message (a list); ts and latency_ms: float64 bytes
   (latency NaN when missing); status: int64 bytes (-1 when missing); service and each of
   `keys`: (distinct values in order of first appearance, int64 bytes of each event's index
   among them, -1 when missing).

   It returns None for anything it does not read exactly as the Python paths would, and the
   caller decodes the batch there: any message that is not such JSON, a `slo` or `ok` field,
   a kept field of another type or with escapes, a key given twice, numbers that are long or
   have a long exponent, a string with an escape of a surrogate or bytes over 0x7f outside
   kept fields, nesting deeper than MAX_DEPTH. Only strict JSON (RFC 8259) is accepted.
   The bytes are only read: no input can make it write out of its own buffers. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#define MAX_DEPTH 64
#define MAX_NUMBER 40 /* characters of a number token */
#define MAX_KEYS 56   /* extra keys (labels and match keys): a bit each, with the 4 fixed */

typedef struct {
    const char *p;
    const char *end;
} Cursor;

/* A growable buffer of 8-byte cells. */
typedef struct {
    char *data;
    Py_ssize_t size; /* cells used */
    Py_ssize_t capacity;
} Cells;

static int cells_push(Cells *cells, const void *cell) {
    if (cells->size == cells->capacity) {
        Py_ssize_t grown = cells->capacity ? cells->capacity * 2 : 1024;
        char *data = PyMem_Realloc(cells->data, (size_t)grown * 8);
        if (data == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        cells->data = data;
        cells->capacity = grown;
    }
    memcpy(cells->data + cells->size * 8, cell, 8);
    cells->size++;
    return 0;
}

/* Distinct strings of a field (by their bytes in the messages) and each event's code. */
typedef struct {
    const char **ptrs;
    Py_ssize_t *lens;
    int64_t *codes;
    Py_ssize_t slots; /* a power of two */
    Py_ssize_t used;
    PyObject *distinct; /* list of str */
    Cells column;
    int64_t current; /* this event's code, -1 until read */
} Factor;

static uint64_t hash_bytes(const char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int factor_init(Factor *f) {
    memset(f, 0, sizeof(*f));
    f->slots = 64;
    f->ptrs = PyMem_Calloc((size_t)f->slots, sizeof(char *));
    f->lens = PyMem_Calloc((size_t)f->slots, sizeof(Py_ssize_t));
    f->codes = PyMem_Calloc((size_t)f->slots, sizeof(int64_t));
    f->distinct = PyList_New(0);
    f->current = -1;
    if (!f->ptrs || !f->lens || !f->codes || !f->distinct) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void factor_free(Factor *f) {
    PyMem_Free(f->ptrs);
    PyMem_Free(f->lens);
    PyMem_Free(f->codes);
    PyMem_Free(f->column.data);
    Py_XDECREF(f->distinct);
}

static int factor_grow(Factor *f) {
    Py_ssize_t slots = f->slots * 2;
    const char **ptrs = PyMem_Calloc((size_t)slots, sizeof(char *));
    Py_ssize_t *lens = PyMem_Calloc((size_t)slots, sizeof(Py_ssize_t));
    int64_t *codes = PyMem_Calloc((size_t)slots, sizeof(int64_t));
    if (!ptrs || !lens || !codes) {
        PyMem_Free(ptrs);
        PyMem_Free(lens);
        PyMem_Free(codes);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < f->slots; i++) {
        if (f->ptrs[i] == NULL) continue;
        uint64_t j = hash_bytes(f->ptrs[i], f->lens[i]) & (uint64_t)(slots - 1);
        while (ptrs[j] != NULL) j = (j + 1) & (uint64_t)(slots - 1);
        ptrs[j] = f->ptrs[i];
        lens[j] = f->lens[i];
        codes[j] = f->codes[i];
    }
    PyMem_Free(f->ptrs);
    PyMem_Free(f->lens);
    PyMem_Free(f->codes);
    f->ptrs = ptrs;
    f->lens = lens;
    f->codes = codes;
    f->slots = slots;
    return 0;
}

/* The code of a string's bytes (no escapes), made a distinct value if new: 0 done, 1 decline
   (not UTF-8), -1 error. */
static int factor_code(Factor *f, const char *p, Py_ssize_t n) {
    uint64_t j = hash_bytes(p, n) & (uint64_t)(f->slots - 1);
    while (f->ptrs[j] != NULL) {
        if (f->lens[j] == n && memcmp(f->ptrs[j], p, (size_t)n) == 0) {
            f->current = f->codes[j];
            return 0;
        }
        j = (j + 1) & (uint64_t)(f->slots - 1);
    }
    PyObject *text = PyUnicode_DecodeUTF8(p, n, "strict");
    if (text == NULL) {
        if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
            PyErr_Clear();
            return 1;
        }
        return -1;
    }
    int failed = PyList_Append(f->distinct, text);
    Py_DECREF(text);
    if (failed) return -1;
    f->ptrs[j] = p;
    f->lens[j] = n;
    f->codes[j] = f->used;
    f->current = f->used;
    f->used++;
    if (f->used * 2 > f->slots && factor_grow(f) < 0) return -1;
    return 0;
}

static void skip_space(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hex_value(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

enum { SKIPPED = 0, KEPT = 1, KEY = 2 };

/* A string at the cursor (on its opening quote): its raw content in [*start, *stop). A KEPT
   value has no escapes and may hold UTF-8 (checked when made a str); a KEY has no escapes and
   only ASCII; a SKIPPED value has its escapes checked and only ASCII. Control characters
   decline. Returns 0, or 1 to decline. */
static int read_string(Cursor *c, const char **start, const char **stop, int mode) {
    int plain = mode != SKIPPED;
    c->p++; /* the quote */
    *start = c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *stop = c->p;
            c->p++;
            return 0;
        }
        if (ch < 0x20) return 1;
        if (ch == '\\') {
            if (plain || c->p + 1 >= c->end) return 1;
            char e = c->p[1];
            if (e == 'u') {
                if (c->p + 5 >= c->end) return 1;
                int value = 0;
                for (int k = 2; k < 6; k++) {
                    int h = hex_value(c->p[k]);
                    if (h < 0) return 1;
                    value = value * 16 + h;
                }
                if (value >= 0xD800 && value <= 0xDFFF) return 1;
                c->p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == '\0') return 1;
            c->p += 2;
            continue;
        }
        if (ch >= 0x80 && mode != KEPT) return 1;
        c->p++;
    }
    return 1; /* unterminated */
}

/* A number token at the cursor, checked against JSON's grammar: [*start, *stop), whether it
   is an integer. Returns 0, or 1 to decline. */
static int read_number(Cursor *c, const char **start, const char **stop, int *integer) {
    const char *p = c->p, *end = c->end;
    *start = p;
    *integer = 1;
    if (p < end && *p == '-') p++;
    if (p >= end) return 1;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') p++;
    } else {
        return 1;
    }
    if (p < end && *p == '.') {
        *integer = 0;
        p++;
        if (p >= end || !(*p >= '0' && *p <= '9')) return 1;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *integer = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9') p++;
        if (p == digits || p - digits > 2) return 1; /* none, or an exponent beyond 99 */
    }
    if (p - *start > MAX_NUMBER) return 1;
    *stop = p;
    c->p = p;
    return 0;
}

static const double POWERS[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21,
                                 1e22};

/* A checked number token [start, stop) as a double by the exact fast path: at most 15
   significant digits (below 2^53) times or divided by a power of ten up to 22 (both exact
   doubles), one correctly rounded operation. Returns 0, or 1 where it does not apply. */
static int fast_double(const char *p, const char *stop, double *out) {
    int negative = *p == '-';
    if (negative) p++;
    int64_t mantissa = 0;
    int digits = 0, scale = 0, seen_point = 0;
    for (; p < stop && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') {
            seen_point = 1;
            continue;
        }
        if (digits || *p != '0') {
            if (++digits > 15) return 1;
            mantissa = mantissa * 10 + (*p - '0');
        }
        if (seen_point) scale--;
    }
    if (p < stop) { /* the exponent: at most two digits (read_number) */
        p++;
        int sign = 1, exponent = 0;
        if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
        for (; p < stop; p++) exponent = exponent * 10 + (*p - '0');
        scale += sign * exponent;
    }
    if (scale < -22 || scale > 22) return 1;
    double value = (double)mantissa;
    value = scale < 0 ? value / POWERS[-scale] : value * POWERS[scale];
    *out = negative ? -value : value;
    return 0;
}

static int read_double(Cursor *c, double *out) {
    const char *start, *stop;
    int integer;
    char buffer[MAX_NUMBER + 1];
    if (read_number(c, &start, &stop, &integer)) return 1;
    if (integer && stop - start > 15) return 1; /* an integer a double may not hold exactly */
    if (fast_double(start, stop, out) == 0) {
        if (integer && *out == 0.0) *out = 0.0; /* -0 is the integer 0, as orjson reads it */
        return 0;
    }
    memcpy(buffer, start, (size_t)(stop - start));
    buffer[stop - start] = '\0';
    double value = PyOS_string_to_double(buffer, NULL, NULL);
    if (value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    if (!isfinite(value)) return 1;
    *out = integer && value == 0.0 ? 0.0 : value;
    return 0;
}

static int read_int(Cursor *c, int64_t *out) {
    const char *start, *stop;
    int integer;
    if (read_number(c, &start, &stop, &integer)) return 1;
    if (!integer || stop - start > 18) return 1;
    const char *p = start;
    int negative = *p == '-';
    if (negative) p++;
    int64_t value = 0;
    for (; p < stop; p++) value = value * 10 + (*p - '0');
    *out = negative ? -value : value;
    return 0;
}

/* After an item of an object or array: 0 for another item (past the comma), 2 at the end (past
   `close`), 1 to decline. */
static int next_item(Cursor *c, char close) {
    skip_space(c);
    if (c->p >= c->end) return 1;
    if (*c->p == ',') {
        c->p++;
        return 0;
    }
    if (*c->p == close) {
        c->p++;
        return 2;
    }
    return 1;
}

static int skip_value(Cursor *c, int depth);

/* The items of an object (`keyed`) or array at the cursor (on its opening bracket), passed
   over. Returns 0, or 1 to decline. */
static int skip_items(Cursor *c, int depth, char close, int keyed) {
    const char *start, *stop;
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        if (keyed) {
            skip_space(c);
            if (c->p >= c->end || *c->p != '"' || read_string(c, &start, &stop, SKIPPED)) return 1;
            skip_space(c);
            if (c->p >= c->end || *c->p != ':') return 1;
            c->p++;
        }
        if (skip_value(c, depth + 1)) return 1;
        int next = next_item(c, close);
        if (next) return next == 2 ? 0 : 1;
    }
}

/* Any JSON value at the cursor, passed over. Returns 0, or 1 to decline. */
static int skip_value(Cursor *c, int depth) {
    if (depth > MAX_DEPTH) return 1;
    skip_space(c);
    if (c->p >= c->end) return 1;
    const char *start, *stop;
    int integer;
    switch (*c->p) {
    case '"':
        return read_string(c, &start, &stop, SKIPPED);
    case '{':
        return skip_items(c, depth, '}', 1);
    case '[':
        return skip_items(c, depth, ']', 0);
    case 't':
        if (c->end - c->p >= 4 && memcmp(c->p, "true", 4) == 0) { c->p += 4; return 0; }
        return 1;
    case 'f':
        if (c->end - c->p >= 5 && memcmp(c->p, "false", 5) == 0) { c->p += 5; return 0; }
        return 1;
    case 'n':
        if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) { c->p += 4; return 0; }
        return 1;
    default:
        return read_number(c, &start, &stop, &integer);
    }
}

typedef struct {
    Py_ssize_t count;      /* extra keys */
    const char *names[MAX_KEYS];
    Py_ssize_t lengths[MAX_KEYS];
    Cells ts, status, latency;
    Factor service;
    Factor extra[MAX_KEYS];
} Columns;

enum { K_TS = 0, K_SERVICE, K_STATUS, K_LATENCY, K_FIXED };

static int same(const char *start, const char *stop, const char *name) {
    size_t n = strlen(name);
    return (size_t)(stop - start) == n && memcmp(start, name, n) == 0;
}

/* One event object at the cursor into the columns. Returns 0, 1 to decline, -1 error. */
static int read_event(Cursor *c, Columns *cols) {
    uint64_t seen = 0;
    double ts = 0.0, latency = NAN;
    int64_t status = -1;
    const char *start, *stop;
    int outcome;
    cols->service.current = -1;
    for (Py_ssize_t k = 0; k < cols->count; k++) cols->extra[k].current = -1;
    skip_space(c);
    if (c->p >= c->end || *c->p != '{') return 1;
    c->p++;
    skip_space(c);
    if (c->p < c->end && *c->p == '}') return 1; /* no ts */
    for (;;) {
        skip_space(c);
        if (c->p >= c->end || *c->p != '"' || read_string(c, &start, &stop, KEY)) return 1;
        skip_space(c);
        if (c->p >= c->end || *c->p != ':') return 1;
        c->p++;
        skip_space(c);
        if (c->p >= c->end) return 1;
        int slot = -1;
        if (same(start, stop, "ts")) slot = K_TS;
        else if (same(start, stop, "service")) slot = K_SERVICE;
        else if (same(start, stop, "status")) slot = K_STATUS;
        else if (same(start, stop, "latency_ms")) slot = K_LATENCY;
        else if (same(start, stop, "slo") || same(start, stop, "ok")) return 1;
        else {
            for (Py_ssize_t k = 0; k < cols->count; k++) {
                if (stop - start == cols->lengths[k] &&
                        memcmp(start, cols->names[k], (size_t)(stop - start)) == 0) {
                    slot = K_FIXED + (int)k;
                    break;
                }
            }
        }
        if (slot >= 0) {
            if (seen & ((uint64_t)1 << slot)) return 1; /* given twice */
            seen |= (uint64_t)1 << slot;
        }
        if (slot == K_TS) {
            if (read_double(c, &ts)) return 1;
        } else if (slot == K_LATENCY) {
            if (read_double(c, &latency)) return 1;
        } else if (slot == K_STATUS) {
            if (read_int(c, &status)) return 1;
        } else if (slot == K_SERVICE || slot >= K_FIXED) {
            Factor *f = slot == K_SERVICE ? &cols->service : &cols->extra[slot - K_FIXED];
            if (*c->p != '"' || read_string(c, &start, &stop, KEPT)) return 1;
            outcome = factor_code(f, start, stop - start);
            if (outcome) return outcome;
        } else if (skip_value(c, 1)) {
            return 1;
        }
        int next = next_item(c, '}');
        if (next == 1) return 1;
        if (next == 2) break;
    }
    if (!(seen & (1 << K_TS)) || !(seen & (1 << K_SERVICE))) return 1;
    if (cells_push(&cols->ts, &ts) || cells_push(&cols->status, &status) ||
            cells_push(&cols->latency, &latency) ||
            cells_push(&cols->service.column, &cols->service.current))
        return -1;
    for (Py_ssize_t k = 0; k < cols->count; k++)
        if (cells_push(&cols->extra[k].column, &cols->extra[k].current)) return -1;
    return 0;
}

/* One message: an object, or a non-empty array of objects (`array`), alone. */
static int read_message(Cursor *c, Columns *cols, int array) {
    int outcome;
    skip_space(c);
    if (c->p >= c->end) return 1;
    if (!array) {
        if ((outcome = read_event(c, cols))) return outcome;
    } else {
        if (*c->p != '[') return 1;
        c->p++;
        for (;;) {
            if ((outcome = read_event(c, cols))) return outcome;
            int next = next_item(c, ']');
            if (next == 1) return 1;
            if (next == 2) break;
        }
    }
    skip_space(c);
    return c->p == c->end ? 0 : 1;
}

static PyObject *factor_result(Factor *f) {
    PyObject *codes = PyBytes_FromStringAndSize(f->column.data, f->column.size * 8);
    if (codes == NULL) return NULL;
    return Py_BuildValue("(ON)", f->distinct, codes);
}

static PyObject *decode(PyObject *Py_UNUSED(self), PyObject *args) {
    PyObject *values, *keys;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &values, &PyTuple_Type, &keys))
        return NULL;
    Py_ssize_t messages = PyList_GET_SIZE(values);
    Py_ssize_t nkeys = PyTuple_GET_SIZE(keys);
    if (messages == 0 || nkeys > MAX_KEYS) Py_RETURN_NONE;
    Columns cols;
    memset(&cols, 0, sizeof(cols));
    cols.count = nkeys;
    PyObject *result = NULL, *ends = NULL;
    int outcome = 0;
    if (factor_init(&cols.service) < 0) goto done;
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *key = PyTuple_GET_ITEM(keys, k);
        if (!PyUnicode_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "keys must be str");
            goto done;
        }
        cols.names[k] = PyUnicode_AsUTF8AndSize(key, &cols.lengths[k]);
        if (cols.names[k] == NULL || factor_init(&cols.extra[k]) < 0) goto done;
    }
    ends = PyList_New(messages);
    if (ends == NULL) goto done;
    int array = -1;
    for (Py_ssize_t i = 0; i < messages; i++) {
        PyObject *value = PyList_GET_ITEM(values, i);
        if (!PyBytes_Check(value)) {
            outcome = 1;
            break;
        }
        Cursor c = {PyBytes_AS_STRING(value), PyBytes_AS_STRING(value) + PyBytes_GET_SIZE(value)};
        skip_space(&c);
        if (c.p >= c.end) {
            outcome = 1;
            break;
        }
        int this_array = *c.p == '[';
        if (array < 0) array = this_array;
        if (this_array != array) {
            outcome = 1;
            break;
        }
        outcome = read_message(&c, &cols, array);
        if (outcome) break;
        PyObject *end = PyLong_FromSsize_t(cols.ts.size);
        if (end == NULL) {
            outcome = -1;
            break;
        }
        PyList_SET_ITEM(ends, i, end);
    }
    if (outcome < 0) goto done;
    if (outcome > 0) {
        result = Py_None;
        Py_INCREF(result);
        goto done;
    }
    PyObject *extra = PyTuple_New(nkeys);
    if (extra == NULL) goto done;
    for (Py_ssize_t k = 0; k < nkeys; k++) {
        PyObject *column = factor_result(&cols.extra[k]);
        if (column == NULL) {
            Py_DECREF(extra);
            goto done;
        }
        PyTuple_SET_ITEM(extra, k, column);
    }
    PyObject *service = factor_result(&cols.service);
    if (service == NULL) {
        Py_DECREF(extra);
        goto done;
    }
    result = Py_BuildValue("(Oy#y#y#NN)", ends, cols.ts.data, cols.ts.size * 8,
                           cols.status.data, cols.status.size * 8,
                           cols.latency.data, cols.latency.size * 8, service, extra);
done:
    Py_XDECREF(ends);
    PyMem_Free(cols.ts.data);
    PyMem_Free(cols.status.data);
    PyMem_Free(cols.latency.data);
    factor_free(&cols.service);
    for (Py_ssize_t k = 0; k < nkeys; k++) factor_free(&cols.extra[k]);  /* zeroed if unused */
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(values: list[bytes], keys: tuple[str, ...]) -> columns | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_columns", NULL, -1, methods,
                                     NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__columns(void) { return PyModule_Create(&module); }
