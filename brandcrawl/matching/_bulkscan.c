/* The bulk filter's folding, exact scan and per-piece work (brandcrawl/matching/bulk.py) over a chunk.
 *
 * PieceScanner(variants, anchors, skeletons, pairs, fold) is built once per watch-list from the matcher's
 * own tables; scan(text) reads a chunk of domains (lower case, UTF-8, one a line) and answers what
 * bulk.PythonPieces.scan answers, which is the reference. It leaves unread, and answers which, the lines
 * the bulk fold is not trusted with (a character a lower-case plain domain does not hold, punycode, an
 * empty label, a dot first or last): the matcher reads those whole. The other lines are folded as the bulk
 * filter reads them: each without its TLD (from its last dot), every character through the fold table
 * (separators become "|"), the skeleton pairs merged. Then scan answers:
 *
 * - the lines holding a label's skeleton, its separators skipped ("galli-mard" holds gallimard), never
 *   across a line end: an Aho-Corasick automaton of the skeletons, built once as a dense DFA (see "The
 *   exact scan" below);
 * - (line, skeleton) for each piece that may be a typo of a label, which bulk.py matches unless it is
 *   an ordinary word: a piece that is a one-typo variant, looked up as the matcher does (the piece's
 *   skeleton, the skeleton pairs merged, "rn" read as "m", or its letters as written; a piece whose
 *   letters are a variant makes every piece with the same skeleton count, as the Python automaton of
 *   the variants found does), and a piece within two typos of a label: a label tied to an anchor the
 *   piece starts or ends with, of a length near the piece's, within the slack of bulk.py's rule by OSA
 *   distance (rapidfuzz's: substitutions, insertions, deletions, adjacent transpositions).
 *
 * Two more types read words as the matcher does, further down: LabelJudge settles most lines the scan
 * finds a label in by what the words around it say (BrandMatcher._labels_only_say_no), and Readings
 * answers words.straddles, for the judge and for the matcher itself.
 *
 * Built on the limited API of Python 3.11, so that one compiled file serves every later CPython (a
 * Scrapyd egg is built on one machine and run on another).
 */

#define Py_LIMITED_API 0x030B0000
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SEPARATOR '|'
#define LINE_END '\n'
/* bulk.py's two-typo rule: two edits, widened by two for each pair merged in the piece (the matcher also
 * measures it with its "rn" unmerged, two edits from its "m"). */
#define TWO_TYPOS 2
#define EDITS_PER_MERGED_PAIR 2
#define MAX_PAIRS 8
#define NO_PAIR (-1)
/* What a label character outside ASCII becomes: the text scanned is ASCII, so it never equals one of
 * its characters, which is all the edit distance asks of it. */
#define NOT_IN_TEXT 0xFF

/* Look-ups in a table far bigger than the cache are done a batch at a time, the memory each needs fetched
 * while the batch is read: waiting for it one look-up after another was half the scan. */
#define BATCH 32
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(address) __builtin_prefetch(address)
#else
#define PREFETCH(address) ((void)(address))
#endif

/* ---- A set of byte strings: open addressing, linear probing ----------------------------------------
 * The keys are in one pool, each its length (one byte, or 0xFF and four) then its bytes, then as many
 * bytes of value as the set gives each key (none in a plain set); a slot holds the high half of the key's
 * hash and the key's place in the pool. At 10,000 brands the matcher has 6 million one-typo variants: a
 * compact set is one the system gives pages to quickly. */

typedef struct {
    uint64_t *slots; /* (hash's high half << 32) | place in pool; 0 is an empty slot */
    size_t mask, count;
    size_t value_size; /* bytes of value after each key, zeroed when it is added */
    unsigned char *pool; /* its first byte is no key's, so that no key's place is 0 */
    size_t pool_length, pool_capacity;
} ByteSet;

/* Slots kept at most this full (percent): a miss probes neighbouring slots, mostly in one cache line. */
#define MAX_LOAD 75
#define LONG_KEY 0xFF

static uint64_t
hash_bytes(const unsigned char *bytes, size_t length)
{
    uint64_t hash = 0x9E3779B97F4A7C15u ^ length;
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, bytes, 8);
        hash = (hash ^ word) * 0xFF51AFD7ED558CCDu;
        hash ^= hash >> 32;
        bytes += 8;
        length -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < length; i++) {
        tail |= (uint64_t)bytes[i] << (8 * i);
    }
    hash = (hash ^ tail) * 0xC4CEB9FE1A85EC53u;
    hash ^= hash >> 33;
    hash *= 0xFF51AFD7ED558CCDu;
    hash ^= hash >> 33;
    return hash;
}

static void
byteset_free(ByteSet *set)
{
    PyMem_Free(set->slots);
    PyMem_Free(set->pool);
    memset(set, 0, sizeof(*set));
}

/* Room for ``expected`` keys. */
static int
byteset_init(ByteSet *set, size_t expected)
{
    size_t slots = 16;
    while (slots * MAX_LOAD < expected * 100) {
        slots *= 2;
    }
    memset(set, 0, sizeof(*set));
    set->slots = PyMem_Calloc(slots, sizeof(uint64_t));
    set->mask = slots - 1;
    set->pool_capacity = 12 * expected + 256; /* a variant is 10 to 11 letters */
    set->pool = PyMem_Malloc(set->pool_capacity);
    set->pool_length = 1;
    if (!set->slots || !set->pool) {
        byteset_free(set);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* The key at ``place``, and its length. */
static inline const unsigned char *
byteset_key(const ByteSet *set, size_t place, size_t *length)
{
    const unsigned char *key = set->pool + place;
    if (key[0] != LONG_KEY) {
        *length = key[0];
        return key + 1;
    }
    uint32_t long_length;
    memcpy(&long_length, key + 1, sizeof(long_length));
    *length = long_length;
    return key + 1 + sizeof(long_length);
}

/* The key's value (its bytes after it), or NULL if the set does not hold it. */
static inline unsigned char *
byteset_find(const ByteSet *set, const unsigned char *bytes, size_t length, uint64_t hash)
{
    const uint64_t tag = hash >> 32;
    for (size_t slot = hash & set->mask;; slot = (slot + 1) & set->mask) {
        const uint64_t held = set->slots[slot];
        if (held == 0) {
            return NULL;
        }
        if (held >> 32 == tag) {
            size_t key_length;
            const unsigned char *key = byteset_key(set, (uint32_t)held, &key_length);
            if (key_length == length && memcmp(key, bytes, length) == 0) {
                return (unsigned char *)key + key_length;
            }
        }
    }
}

static inline int
byteset_contains(const ByteSet *set, const unsigned char *bytes, size_t length, uint64_t hash)
{
    return byteset_find(set, bytes, length, hash) != NULL;
}

static void
byteset_place(uint64_t *slots, size_t mask, uint64_t hash, size_t place)
{
    size_t slot = hash & mask;
    while (slots[slot]) {
        slot = (slot + 1) & mask;
    }
    slots[slot] = (hash >> 32 << 32) | place;
}

static int
byteset_grow(ByteSet *set)
{
    const size_t mask = 2 * set->mask + 1;
    uint64_t *slots = PyMem_Calloc(mask + 1, sizeof(uint64_t));
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t place = 1; place < set->pool_length;) {
        size_t length;
        const unsigned char *key = byteset_key(set, place, &length);
        byteset_place(slots, mask, hash_bytes(key, length), place);
        place = (size_t)(key - set->pool) + length + set->value_size;
    }
    PyMem_Free(set->slots);
    set->slots = slots;
    set->mask = mask;
    return 0;
}

/* ``hash``: hash_bytes(bytes, length). */
static int
byteset_add(ByteSet *set, const unsigned char *bytes, size_t length, uint64_t hash)
{
    if (byteset_contains(set, bytes, length, hash)) {
        return 0;
    }
    const size_t prefix = length < LONG_KEY ? 1 : 1 + sizeof(uint32_t);
    const size_t stored = prefix + length + set->value_size;
    if (length > UINT32_MAX || set->pool_length + stored > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many keys for one set");
        return -1;
    }
    if (set->pool_length + stored > set->pool_capacity) {
        size_t capacity = 2 * set->pool_capacity;
        while (set->pool_length + stored > capacity) {
            capacity *= 2;
        }
        unsigned char *pool = PyMem_Realloc(set->pool, capacity);
        if (!pool) {
            PyErr_NoMemory();
            return -1;
        }
        set->pool = pool;
        set->pool_capacity = capacity;
    }
    const size_t place = set->pool_length;
    unsigned char *key = set->pool + place;
    if (prefix == 1) {
        key[0] = (unsigned char)length;
    }
    else {
        const uint32_t long_length = (uint32_t)length;
        key[0] = LONG_KEY;
        memcpy(key + 1, &long_length, sizeof(long_length));
    }
    memcpy(key + prefix, bytes, length);
    memset(key + prefix + length, 0, set->value_size);
    set->pool_length += stored;
    set->count++;
    if (set->count * 100 > (set->mask + 1) * MAX_LOAD) {
        return byteset_grow(set); /* re-places every key, this one included */
    }
    byteset_place(set->slots, set->mask, hash, place);
    return 0;
}

/* ---- Anchor tries ------------------------------------------------------------------------------------
 * Every anchor is tied to a word boundary: "|gall" is a piece's start, "mard|" its end. So a piece needs
 * no automaton: the prefixes of the piece are walked down a trie of the start anchors, and its suffixes,
 * read backwards, down a trie of the end anchors written backwards.
 *
 * The start trie is big (448,000 nodes at 1,000 brands, 3 million at 10,000): a step below its top levels
 * waits for memory. So a walk stops at a node below which no label has a length near the piece's, which
 * skips, at 1,000 brands, a fifth of the walks at the root and half the deeper steps, and a node is one
 * record holding all a step reads, its children's characters and places.
 * A record, in Trie.pool from its place on (the root's is 0, and no child's):
 *   [RECORD_LENGTHS] bit n: a label of length n (the last bit: or longer) is tied to this node or one below;
 *   [RECORD_RUN]     its labels: their run in Trie.runs, 0 for none;
 *   [RECORD_CHARS]   its child count (one byte: anchors are ASCII), then its children's characters, to a
 *                    whole word;
 *   then the place of each child, in the order of the characters.
 * The records are laid out breadth first: the few top levels every walk goes through stay in the cache. */

#define RECORD_LENGTHS 0
#define RECORD_RUN 1
#define RECORD_CHARS 2
#define LENGTH_BITS 32
/* The top levels have up to 35 children a node (letters and digits): finding one among them was a third
 * of a walk. Their nodes are found instead in tables, one a level, by the characters leading to them, as
 * numbered columns: as many levels as fit in TOP_ENTRIES a table (three for 35 characters). */
#define TOP_DEPTH 3
#define TOP_ENTRIES (1 << 16)

typedef struct {
    uint32_t start, count; /* in Scanner.labels */
} Run;

typedef struct {
    uint32_t *pool;
    Run *runs; /* runs[0] is no run */
    /* top[d][code]: the place of the node at depth d + 1 that the characters of columns c0 ... cd lead to
     * (code: c0 * columns^d + ... + cd), or 0. Column 0 is every character no anchor holds. */
    uint32_t *top[TOP_DEPTH];
    int top_depth;
    size_t columns;
    unsigned char column_of[256];
} Trie;

/* The word of a record with ``count`` children where their places start. */
static inline size_t
record_places(size_t count)
{
    return RECORD_CHARS + (1 + count + sizeof(uint32_t) - 1) / sizeof(uint32_t);
}

/* The bit of a label ``length`` letters long in RECORD_LENGTHS. */
static inline uint32_t
length_bit(Py_ssize_t length)
{
    return (uint32_t)1 << (length < LENGTH_BITS - 1 ? length : LENGTH_BITS - 1);
}

/* The bits of the lengths from ``low`` to ``high``. */
static inline uint32_t
lengths_between(Py_ssize_t low, Py_ssize_t high)
{
    low = low < 0 ? 0 : low < LENGTH_BITS - 1 ? low : LENGTH_BITS - 1;
    high = high < LENGTH_BITS - 1 ? high : LENGTH_BITS - 1;
    return (UINT32_MAX << low) & (UINT32_MAX >> (LENGTH_BITS - 1 - high));
}

/* While building: children as linked lists. */
typedef struct {
    uint32_t child, sibling, label_start, label_count;
    unsigned char ch;
} Building;

typedef struct {
    Building *nodes;
    uint32_t count, capacity;
} BuildingTrie;

static int
building_init(BuildingTrie *trie)
{
    trie->capacity = 1024;
    trie->nodes = PyMem_Calloc(trie->capacity, sizeof(Building));
    trie->count = 1; /* the root */
    if (!trie->nodes) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int
building_add(BuildingTrie *trie, const unsigned char *word, size_t length, int backwards, uint32_t label_start,
             uint32_t label_count)
{
    uint32_t node = 0;
    for (size_t i = 0; i < length; i++) {
        const unsigned char ch = word[backwards ? length - 1 - i : i];
        uint32_t child = trie->nodes[node].child;
        while (child && trie->nodes[child].ch != ch) {
            child = trie->nodes[child].sibling;
        }
        if (!child) {
            if (trie->count == trie->capacity) {
                if (trie->capacity > UINT32_MAX / 2) {
                    PyErr_SetString(PyExc_OverflowError, "too many two-typo anchors");
                    return -1;
                }
                Building *grown = PyMem_Realloc(trie->nodes, 2 * (size_t)trie->capacity * sizeof(Building));
                if (!grown) {
                    PyErr_NoMemory();
                    return -1;
                }
                trie->nodes = grown;
                trie->capacity *= 2;
            }
            child = trie->count++;
            trie->nodes[child] = (Building){0, trie->nodes[node].child, 0, 0, ch};
            trie->nodes[node].child = child;
        }
        node = child;
    }
    if (trie->nodes[node].label_count) {
        PyErr_SetString(PyExc_ValueError, "the same two-typo anchor twice");
        return -1;
    }
    trie->nodes[node].label_start = label_start;
    trie->nodes[node].label_count = label_count;
    return 0;
}

/* The children of the building ``node``, at ``depth``, that ``code`` leads to, and theirs, into the tables. */
static void
top_fill(const BuildingTrie *building, Trie *trie, uint32_t node, int depth, size_t code, const uint32_t *places)
{
    for (uint32_t child = building->nodes[node].child; child; child = building->nodes[child].sibling) {
        const size_t child_code = code * trie->columns + trie->column_of[building->nodes[child].ch];
        trie->top[depth][child_code] = places[child];
        if (depth + 1 < trie->top_depth && depth + 1 < TOP_DEPTH) { /* the second, for the compiler */
            top_fill(building, trie, child, depth + 1, child_code, places);
        }
    }
}

/* The tables of the top levels; ``places``: each building node's. */
static int
top_index(const BuildingTrie *building, Trie *trie, const uint32_t *places)
{
    trie->columns = 1;
    for (uint32_t node = 1; node < building->count; node++) {
        unsigned char *column = &trie->column_of[building->nodes[node].ch];
        if (!*column) {
            *column = (unsigned char)trie->columns++;
        }
    }
    size_t entries = 0, level = 1;
    trie->top_depth = 0;
    while (trie->top_depth < TOP_DEPTH && level * trie->columns <= TOP_ENTRIES) {
        level *= trie->columns;
        entries += level;
        trie->top_depth++;
    }
    trie->top[0] = PyMem_Calloc(entries, sizeof(uint32_t));
    if (!trie->top[0]) {
        PyErr_NoMemory();
        return -1;
    }
    level = 1;
    for (int depth = 1; depth < trie->top_depth; depth++) {
        level *= trie->columns;
        trie->top[depth] = trie->top[depth - 1] + level;
    }
    top_fill(building, trie, 0, 0, 0, places);
    return 0;
}

/* The building trie as records (see "Anchor tries" above), breadth first; frees it. ``labels`` and
 * ``lengths``: Scanner.labels and Scanner.skeleton_lengths. */
static int
building_freeze(BuildingTrie *building, Trie *trie, const uint32_t *labels, const Py_ssize_t *lengths)
{
    const uint32_t count = building->count;
    uint32_t *order = PyMem_Malloc(count * sizeof(uint32_t));  /* building nodes, breadth first */
    uint32_t *places = PyMem_Malloc(count * sizeof(uint32_t)); /* by building node */
    uint32_t *below = PyMem_Calloc(count, sizeof(uint32_t));   /* RECORD_LENGTHS, by building node */
    uint32_t run_count = 1;
    size_t words = 0;
    int failed = !order || !places || !below;
    if (!failed) {
        uint32_t queued = 1;
        order[0] = 0;
        for (uint32_t position = 0; position < count; position++) {
            size_t children = 0;
            for (uint32_t child = building->nodes[order[position]].child; child;
                 child = building->nodes[child].sibling) {
                order[queued++] = child;
                children++;
            }
            places[order[position]] = (uint32_t)words;
            words += record_places(children) + children;
            run_count += building->nodes[order[position]].label_count > 0;
            failed = failed || words > UINT32_MAX;
        }
    }
    if (failed) {
        PyErr_SetString(PyExc_OverflowError, "too many two-typo anchors");
    }
    else {
        trie->pool = PyMem_Calloc(words, sizeof(uint32_t));
        trie->runs = PyMem_Calloc(run_count, sizeof(Run));
        failed = !trie->pool || !trie->runs;
        if (failed) {
            PyErr_NoMemory();
        }
    }
    if (!failed) {
        /* A child comes after its parent: from the last node back, each one's lengths are complete before
         * its parent takes them in. */
        for (uint32_t position = count; position-- > 0;) {
            const Building *node = &building->nodes[order[position]];
            for (uint32_t k = 0; k < node->label_count; k++) {
                below[order[position]] |= length_bit(lengths[labels[node->label_start + k]]);
            }
            for (uint32_t child = node->child; child; child = building->nodes[child].sibling) {
                below[order[position]] |= below[child];
            }
        }
        run_count = 1;
        for (uint32_t position = 0; position < count; position++) {
            const Building *node = &building->nodes[order[position]];
            uint32_t *record = trie->pool + places[order[position]];
            record[RECORD_LENGTHS] = below[order[position]];
            if (node->label_count) {
                trie->runs[run_count] = (Run){node->label_start, node->label_count};
                record[RECORD_RUN] = run_count++;
            }
            unsigned char *chars = (unsigned char *)(record + RECORD_CHARS);
            size_t children = 0;
            for (uint32_t child = node->child; child; child = building->nodes[child].sibling) {
                chars[1 + children++] = building->nodes[child].ch;
            }
            chars[0] = (unsigned char)children;
            uint32_t *child_places = record + record_places(children);
            children = 0;
            for (uint32_t child = node->child; child; child = building->nodes[child].sibling) {
                child_places[children++] = places[child];
            }
        }
    }
    failed = failed || top_index(building, trie, places) < 0;
    PyMem_Free(order);
    PyMem_Free(places);
    PyMem_Free(below);
    PyMem_Free(building->nodes);
    building->nodes = NULL;
    return failed ? -1 : 0;
}

/* The place of the child of the node at ``node`` that ``ch`` leads to, or 0. */
static inline uint32_t
trie_child(const Trie *trie, uint32_t node, unsigned char ch)
{
    const uint32_t *record = trie->pool + node;
    const unsigned char *chars = (const unsigned char *)(record + RECORD_CHARS);
    const int count = chars[0];
    const unsigned char *found = memchr(chars + 1, ch, (size_t)count);
    return found ? record[record_places((size_t)count) + (size_t)(found - chars - 1)] : 0;
}

/* ---- OSA distance, banded ---------------------------------------------------------------------------- */

/* Whether ``a`` and ``b`` are within ``bound`` edits (substitution, insertion, deletion, transposition of
 * two adjacent characters, no substring edited twice). Only the cells within ``bound`` of the diagonal
 * are computed, and every value above ``bound`` is held as ``bound + 1``: cells on a path within the
 * bound keep their exact value, every other cell stays above it. ``rows`` holds 3 * (len(b) + 2). */
static int
osa_within(const unsigned char *a, Py_ssize_t a_length, const unsigned char *b, Py_ssize_t b_length,
           Py_ssize_t bound, Py_ssize_t *rows)
{
    const Py_ssize_t longer = a_length > b_length ? a_length : b_length;
    const Py_ssize_t difference = a_length > b_length ? a_length - b_length : b_length - a_length;
    if (difference > bound) {
        return 0;
    }
    if (bound >= longer) {
        return 1; /* rewriting every character of the longer one is enough */
    }
    const Py_ssize_t over = bound + 1;
    Py_ssize_t *before = rows, *previous = rows + (b_length + 2), *current = rows + 2 * (b_length + 2);
    for (Py_ssize_t j = 0; j <= b_length + 1; j++) {
        previous[j] = j <= bound ? j : over;
    }
    for (Py_ssize_t i = 1; i <= a_length; i++) {
        const Py_ssize_t low = i - bound > 1 ? i - bound : 1;
        const Py_ssize_t high = i + bound < b_length ? i + bound : b_length;
        current[low - 1] = low == 1 && i <= bound ? i : over;
        Py_ssize_t best = current[low - 1];
        for (Py_ssize_t j = low; j <= high; j++) {
            Py_ssize_t value = previous[j - 1] + (a[i - 1] != b[j - 1]);
            if (previous[j] + 1 < value) {
                value = previous[j] + 1;
            }
            if (current[j - 1] + 1 < value) {
                value = current[j - 1] + 1;
            }
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && before[j - 2] + 1 < value) {
                value = before[j - 2] + 1;
            }
            if (value > over) {
                value = over;
            }
            current[j] = value;
            if (value < best) {
                best = value;
            }
        }
        current[high + 1] = over;
        /* Past the bound for good: a transposition skips this row, but the cell it jumps over is one
         * substitution from where it starts, so that cell costs no more than the transposition does. */
        if (best > bound) {
            return 0;
        }
        Py_ssize_t *spare = before;
        before = previous;
        previous = current;
        current = spare;
    }
    return previous[b_length] <= bound;
}

/* ---- The exact scan: an Aho-Corasick automaton of the labels' skeletons, as a dense DFA ---------------
 * A label's skeleton anywhere in a line's skeleton, its separators skipped ("galli|mard" holds gallimard):
 * one table look-up per byte of the text. The columns are the bytes the labels hold, each given a small
 * number; every other byte is column 0, which no label goes on with, so it leads back to the root. A state's
 * row holds where each column leads, fail links already followed, so the walk never goes back. Labels are
 * letters: at 1,000 brands (benchmarks/data) 5,230 states x 25 columns, 0.5 MB; at 10,000, 40,857 states,
 * 4.1 MB. */

typedef struct {
    uint32_t *next;      /* next[state * columns + column]; state 0 is the root */
    unsigned char *ends; /* per state: a label ends here, or at a suffix of what led here */
    /* Per state, which labels those are: label numbers output[first[state]] .. output[first[state + 1]]. */
    uint32_t *first, *output;
    uint32_t count, columns;
    unsigned char column_of[256];
} Exact;

static void
exact_free(Exact *exact)
{
    PyMem_Free(exact->next);
    PyMem_Free(exact->ends);
    PyMem_Free(exact->first);
    PyMem_Free(exact->output);
    memset(exact, 0, sizeof(*exact));
}

/* Each state's labels: its own (``own``: the last label ending there, or UINT32_MAX; ``same`` links each
 * label to the one before it with the same skeleton), then its fail link's, shallower, so already listed:
 * states in breadth-first ``order``. */
static int
exact_outputs(Exact *exact, const uint32_t *order, const uint32_t *fail, const uint32_t *own,
              const uint32_t *same, Py_ssize_t label_count)
{
    exact->first = PyMem_Calloc((size_t)exact->count + 1, sizeof(uint32_t));
    size_t capacity = (size_t)label_count + 16;
    exact->output = PyMem_Malloc(capacity * sizeof(uint32_t));
    if (!exact->first || !exact->output) {
        PyErr_NoMemory();
        return -1;
    }
    /* Listed in breadth-first order, then read by state: each state's run is kept as (start, length). */
    uint32_t *starts = PyMem_Calloc(exact->count, sizeof(uint32_t));
    uint32_t *lengths = PyMem_Calloc(exact->count, sizeof(uint32_t));
    uint32_t *listed = NULL;
    if (!starts || !lengths) {
        PyErr_NoMemory();
        goto failed;
    }
    size_t total = 0;
    for (uint32_t position = 0; position + 1 < exact->count; position++) {
        const uint32_t state = order[position];
        const uint32_t inherited = lengths[fail[state]];
        uint32_t mine = 0;
        for (uint32_t label = own[state]; label != UINT32_MAX; label = same[label]) {
            mine++;
        }
        if (total + mine + inherited > UINT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "too many labels for the exact scan");
            goto failed;
        }
        if (total + mine + inherited > capacity) {
            while (total + mine + inherited > capacity) {
                capacity *= 2;
            }
            uint32_t *grown = PyMem_Realloc(exact->output, capacity * sizeof(uint32_t));
            if (!grown) {
                PyErr_NoMemory();
                goto failed;
            }
            exact->output = grown;
        }
        starts[state] = (uint32_t)total;
        for (uint32_t label = own[state]; label != UINT32_MAX; label = same[label]) {
            exact->output[total++] = label;
        }
        memcpy(exact->output + total, exact->output + starts[fail[state]], inherited * sizeof(uint32_t));
        total += inherited;
        lengths[state] = mine + inherited;
    }
    /* By state: first[state] .. first[state + 1]. */
    listed = PyMem_Malloc((total + 1) * sizeof(uint32_t));
    if (!listed) {
        PyErr_NoMemory();
        goto failed;
    }
    uint32_t at = 0;
    for (uint32_t state = 0; state < exact->count; state++) {
        exact->first[state] = at;
        memcpy(listed + at, exact->output + starts[state], lengths[state] * sizeof(uint32_t));
        at += lengths[state];
    }
    exact->first[exact->count] = at;
    PyMem_Free(exact->output);
    exact->output = listed;
    PyMem_Free(starts);
    PyMem_Free(lengths);
    return 0;
failed:
    PyMem_Free(starts);
    PyMem_Free(lengths);
    return -1;
}

/* Whether the (ASCII) text can hold this skeleton: a label with a character outside ASCII (NOT_IN_TEXT)
 * can never be found, so it takes no state; nor does an empty one, which pyahocorasick leaves out. */
static int
findable(const unsigned char *skeleton, Py_ssize_t length)
{
    for (Py_ssize_t k = 0; k < length; k++) {
        if (skeleton[k] >= 0x80) {
            return 0;
        }
    }
    return length > 0;
}

/* The automaton of the labels' skeletons, laid out as read_skeletons keeps them. */
static int
exact_build(Exact *exact, const unsigned char *skeletons, const size_t *offsets, const Py_ssize_t *lengths,
            Py_ssize_t label_count, int with_outputs)
{
    size_t most = 1; /* states: the root and one for each character of a findable label, at most */
    unsigned char used[256] = {0};
    for (Py_ssize_t label = 0; label < label_count; label++) {
        const unsigned char *skeleton = skeletons + offsets[label];
        if (findable(skeleton, lengths[label])) {
            most += (size_t)lengths[label];
            for (Py_ssize_t k = 0; k < lengths[label]; k++) {
                used[skeleton[k]] = 1;
            }
        }
    }
    exact->columns = 1;
    for (int byte = 0; byte < 256; byte++) {
        exact->column_of[byte] = used[byte] ? (unsigned char)exact->columns++ : 0;
    }
    if (most > UINT32_MAX / exact->columns) {
        PyErr_SetString(PyExc_OverflowError, "too many labels for the exact scan");
        return -1;
    }
    const size_t columns = exact->columns;
    exact->next = PyMem_Calloc(most * columns, sizeof(uint32_t));
    exact->ends = PyMem_Calloc(most, 1);
    uint32_t *fail = PyMem_Malloc(most * sizeof(uint32_t)), *queue = PyMem_Malloc(most * sizeof(uint32_t));
    uint32_t *own = PyMem_Malloc(most * sizeof(uint32_t));
    uint32_t *same = PyMem_Malloc(((size_t)label_count + 1) * sizeof(uint32_t));
    int result = -1;
    if (!exact->next || !exact->ends || !fail || !queue || !own || !same) {
        PyErr_NoMemory();
        goto done;
    }
    memset(own, 0xFF, most * sizeof(uint32_t)); /* UINT32_MAX: no label ends there */
    /* The trie: a child is never the root, so 0 in a row means "no child" while building. */
    exact->count = 1;
    for (Py_ssize_t label = 0; label < label_count; label++) {
        const unsigned char *skeleton = skeletons + offsets[label];
        if (!findable(skeleton, lengths[label])) {
            continue;
        }
        uint32_t state = 0;
        for (Py_ssize_t k = 0; k < lengths[label]; k++) {
            uint32_t *child = &exact->next[state * columns + exact->column_of[skeleton[k]]];
            if (!*child) {
                *child = exact->count++;
            }
            state = *child;
        }
        exact->ends[state] = 1;
        same[label] = own[state];
        own[state] = (uint32_t)label;
    }
    /* Breadth first, so that a state's fail link, shallower, has its row and its flag complete: a missing
     * child becomes where the fail link goes on that column, and a label ending at the fail link's state
     * ends at this one too. */
    uint32_t queued = 0;
    for (size_t column = 1; column < columns; column++) {
        const uint32_t child = exact->next[column];
        if (child) {
            fail[child] = 0;
            queue[queued++] = child;
        }
    }
    for (uint32_t position = 0; position < queued; position++) {
        const uint32_t state = queue[position];
        uint32_t *row = &exact->next[state * columns];
        const uint32_t *fail_row = &exact->next[fail[state] * columns];
        exact->ends[state] |= exact->ends[fail[state]];
        for (size_t column = 1; column < columns; column++) {
            if (row[column]) {
                fail[row[column]] = fail_row[column];
                queue[queued++] = row[column];
            }
            else {
                row[column] = fail_row[column];
            }
        }
    }
    /* Which labels end at each state: the judge needs them; the scanner, only whether one does. */
    result = with_outputs ? exact_outputs(exact, queue, fail, own, same, label_count) : 0;
    /* Labels sharing prefixes took fewer states than the bound: give the rest back. */
    uint32_t *shrunk = PyMem_Realloc(exact->next, exact->count * columns * sizeof(uint32_t));
    exact->next = shrunk ? shrunk : exact->next;
done:
    PyMem_Free(fail);
    PyMem_Free(queue);
    PyMem_Free(own);
    PyMem_Free(same);
    return result;
}

/* Marks in ``flags`` each line of ``skeletons`` (the chunk's skeleton text) holding a label's skeleton. */
static void
exact_scan(const Exact *exact, const unsigned char *skeletons, size_t length, unsigned char *flags)
{
    const uint32_t *next = exact->next;
    const unsigned char *ends = exact->ends;
    const size_t columns = exact->columns;
    uint32_t state = 0;
    size_t line = 0;
    for (size_t i = 0; i < length; i++) {
        const unsigned char ch = skeletons[i];
        if (ch == LINE_END) {
            line++;
            state = 0;
        }
        else if (ch != SEPARATOR) {
            state = next[state * columns + exact->column_of[ch]];
            flags[line] |= ends[state];
        }
    }
}

/* ---- The scanner ----------------------------------------------------------------------------------- */

/* The last bytes read, one a byte, as a number: the patterns that make a line unread are found in them
 * without a branch. */
#define LAST_TWO(a, b) ((uint32_t)(a) << 8 | (uint32_t)(b))
#define LAST_FOUR(a, b, c, d) (LAST_TWO(a, b) << 16 | LAST_TWO(c, d))

typedef struct {
    PyObject_HEAD
    ByteSet variants;
    Exact exact;
    Trie starts, ends;
    uint32_t *labels; /* label numbers, each anchor's a run of them */
    /* The labels' skeletons, one after another. */
    unsigned char *skeletons;
    size_t *skeleton_offsets;
    Py_ssize_t *skeleton_lengths;
    Py_ssize_t label_count;
    /* Scratch space of one scan. */
    uint32_t *seen; /* the piece that last took each label as a candidate */
    uint32_t piece_number;
    uint32_t *candidates;
    Py_ssize_t *rows;
    /* Skeleton pairs: pair[0] pair[1] reads as merged. */
    unsigned char pairs[MAX_PAIRS][2], merged[MAX_PAIRS];
    int pair_count;
    /* The pairs by their first letter: its second one (NO_PAIR: it starts none), what they merge into. */
    int16_t second_of[256];
    unsigned char merged_of[256];
    unsigned char fold[256]; /* bulk.py's _FOLD */
    /* By the last two bytes read (LAST_TWO): 1 if their line is left unread, the second being a byte a
     * lower-case plain domain does not hold (a line end aside), or the two an empty label (".."), a dot
     * first ("\n.") or last (".\n"). */
    unsigned char never_read[1 << 16];
} Scanner;

/* UTF-8 of an ASCII str, or NULL (no exception) for any other. */
static const unsigned char *
ascii_of(PyObject *text, Py_ssize_t *length)
{
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, length);
    if (!utf8 || PyUnicode_GetLength(text) != *length) {
        PyErr_Clear();
        return NULL;
    }
    return (const unsigned char *)utf8;
}

/* The pairs by their first letter, for merge_pairs' one pass: which needs that no letter is in two pairs
 * (nor twice in a pair, but as "vv"), nor is what a pair merges into, so that merging one pair never
 * makes or unmakes another. */
static int
index_pairs(Scanner *self)
{
    int pair_of[256]; /* the pair holding each letter, or NO_PAIR */
    for (int byte = 0; byte < 256; byte++) {
        pair_of[byte] = NO_PAIR;
        self->second_of[byte] = NO_PAIR;
    }
    int apart = 1;
    for (int p = 0; p < self->pair_count; p++) {
        for (int k = 0; k < 2; k++) {
            const unsigned char letter = self->pairs[p][k];
            apart = apart && (pair_of[letter] == NO_PAIR || (k == 1 && letter == self->pairs[p][0]));
            pair_of[letter] = p;
        }
        self->second_of[self->pairs[p][0]] = self->pairs[p][1];
        self->merged_of[self->pairs[p][0]] = self->merged[p];
    }
    for (int p = 0; p < self->pair_count; p++) {
        apart = apart && pair_of[self->merged[p]] == NO_PAIR;
    }
    if (!apart) {
        PyErr_SetString(PyExc_ValueError, "skeleton pairs share no letter with each other or what they read as");
        return -1;
    }
    return 0;
}

/* The skeleton pairs into ``written`` (two letters each) and ``merged`` (what each reads as). */
static int
read_pairs(PyObject *pairs, unsigned char (*written_pairs)[2], unsigned char *merged, int *pair_count)
{
    PyObject *iterator = PyObject_GetIter(pairs), *pair;
    if (!iterator) {
        return -1;
    }
    while ((pair = PyIter_Next(iterator))) {
        PyObject *written = NULL, *read = NULL;
        Py_ssize_t written_length = 0, read_length = 0;
        const unsigned char *written_bytes = NULL, *read_bytes = NULL;
        if (PySequence_Check(pair) && PySequence_Size(pair) == 2) {
            written = PySequence_GetItem(pair, 0);
            read = PySequence_GetItem(pair, 1);
        }
        if (written && read && PyUnicode_Check(written) && PyUnicode_Check(read)) {
            written_bytes = ascii_of(written, &written_length);
            read_bytes = ascii_of(read, &read_length);
        }
        const int fits = written_bytes && read_bytes && written_length == 2 && read_length == 1
                         && *pair_count < MAX_PAIRS;
        if (fits) {
            memcpy(written_pairs[*pair_count], written_bytes, 2);
            merged[(*pair_count)++] = read_bytes[0];
        }
        Py_XDECREF(written);
        Py_XDECREF(read);
        Py_DECREF(pair);
        if (!fits) {
            PyErr_Clear(); /* a failed PySequence_Size */
            PyErr_SetString(PyExc_ValueError, "skeleton pairs are (two ASCII letters, one ASCII letter)");
            break;
        }
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

/* A label's str as the scanned text could hold it, into ``out`` (a byte per character: NOT_IN_TEXT for
 * one outside ASCII); returns its length. */
static Py_ssize_t
copy_as_text(PyObject *text, unsigned char *out)
{
    const Py_ssize_t length = PyUnicode_GetLength(text);
    for (Py_ssize_t k = 0; k < length; k++) {
        const Py_UCS4 ch = PyUnicode_ReadChar(text, k);
        out[k] = ch < 0x80 ? (unsigned char)ch : NOT_IN_TEXT;
    }
    return length;
}

static int
read_skeletons(Scanner *self, PyObject *skeletons)
{
    PyObject *list = PySequence_List(skeletons);
    if (!list) {
        return -1;
    }
    const Py_ssize_t count = PyList_Size(list);
    size_t total = 0;
    Py_ssize_t longest = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *skeleton = PyList_GetItem(list, i);
        if (!PyUnicode_Check(skeleton)) {
            PyErr_SetString(PyExc_TypeError, "skeletons are str");
            Py_DECREF(list);
            return -1;
        }
        const Py_ssize_t length = PyUnicode_GetLength(skeleton);
        total += length;
        longest = length > longest ? length : longest;
    }
    self->label_count = count;
    self->skeletons = PyMem_Malloc(total + 1);
    self->skeleton_offsets = PyMem_Malloc((count + 1) * sizeof(size_t));
    self->skeleton_lengths = PyMem_Malloc((count + 1) * sizeof(Py_ssize_t));
    self->seen = PyMem_Calloc(count + 1, sizeof(uint32_t));
    self->candidates = PyMem_Malloc((count + 1) * sizeof(uint32_t));
    self->rows = PyMem_Malloc(3 * (longest + 2) * sizeof(Py_ssize_t));
    if (!self->skeletons || !self->skeleton_offsets || !self->skeleton_lengths || !self->seen
        || !self->candidates || !self->rows) {
        Py_DECREF(list);
        PyErr_NoMemory();
        return -1;
    }
    size_t offset = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        self->skeleton_offsets[i] = offset;
        self->skeleton_lengths[i] = copy_as_text(PyList_GetItem(list, i), self->skeletons + offset);
        offset += self->skeleton_lengths[i];
    }
    Py_DECREF(list);
    return 0;
}

static int
read_variants(Scanner *self, PyObject *variants)
{
    const Py_ssize_t expected = PyObject_Size(variants);
    if (expected < 0) {
        PyErr_Clear(); /* an iterable without a length */
    }
    if (byteset_init(&self->variants, expected > 0 ? (size_t)expected : 0) < 0) {
        return -1;
    }
    PyObject *iterator = PyObject_GetIter(variants);
    if (!iterator) {
        return -1;
    }
    PyObject *held[BATCH];
    const unsigned char *bytes[BATCH];
    Py_ssize_t lengths[BATCH];
    uint64_t hashes[BATCH];
    int count, failed = 0;
    do {
        for (count = 0; count < BATCH && !failed; count++) {
            if (!(held[count] = PyIter_Next(iterator))) {
                break;
            }
            if (!PyUnicode_Check(held[count])) {
                PyErr_SetString(PyExc_TypeError, "one-typo variants are str");
                failed = 1;
            }
            /* A variant with another character can never be a piece of the (ASCII) text. */
            bytes[count] = failed ? NULL : ascii_of(held[count], &lengths[count]);
            if (bytes[count]) {
                hashes[count] = hash_bytes(bytes[count], lengths[count]);
                PREFETCH(&self->variants.slots[hashes[count] & self->variants.mask]);
            }
        }
        for (int k = 0; k < count; k++) {
            failed = failed || (bytes[k] && byteset_add(&self->variants, bytes[k], lengths[k], hashes[k]) < 0);
            Py_DECREF(held[k]);
        }
    } while (count == BATCH && !failed);
    Py_DECREF(iterator);
    return failed || PyErr_Occurred() ? -1 : 0;
}

/* Each label number of ``held.numbers`` appended to labels[*count...]. */
static int
read_numbers(Scanner *self, PyObject *held, uint32_t **labels, size_t *count, size_t *capacity)
{
    PyObject *numbers = PyObject_GetAttrString(held, "numbers");
    PyObject *iterator = numbers ? PyObject_GetIter(numbers) : NULL, *number;
    Py_XDECREF(numbers);
    if (!iterator) {
        return -1;
    }
    while ((number = PyIter_Next(iterator))) {
        const Py_ssize_t value = PyLong_AsSsize_t(number);
        Py_DECREF(number);
        if (value == -1 && PyErr_Occurred()) {
            break;
        }
        if (value < 0 || value >= self->label_count) {
            PyErr_Format(PyExc_ValueError, "label number %zd: there are %zd labels", value, self->label_count);
            break;
        }
        if (*count == *capacity) {
            uint32_t *grown = PyMem_Realloc(*labels, 2 * *capacity * sizeof(uint32_t));
            if (!grown) {
                PyErr_NoMemory();
                break;
            }
            *labels = grown;
            *capacity *= 2;
        }
        (*labels)[(*count)++] = (uint32_t)value;
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

/* The labels objects read so far, by address, with their run of label numbers: most anchors share their
 * label's one object, read once. Each is held until the scanner is built, so that no other object takes
 * its address meanwhile. */
typedef struct {
    PyObject **objects; /* NULL: an empty slot */
    uint32_t *starts, *counts;
    size_t mask, count;
} Runs;

static void
runs_free(Runs *runs)
{
    for (size_t slot = 0; runs->objects && slot <= runs->mask; slot++) {
        Py_XDECREF(runs->objects[slot]);
    }
    PyMem_Free(runs->objects);
    PyMem_Free(runs->starts);
    PyMem_Free(runs->counts);
    memset(runs, 0, sizeof(*runs));
}

static int
runs_init(Runs *runs, size_t slots)
{
    runs->objects = PyMem_Calloc(slots, sizeof(PyObject *));
    runs->starts = PyMem_Calloc(slots, sizeof(uint32_t));
    runs->counts = PyMem_Calloc(slots, sizeof(uint32_t));
    runs->mask = slots - 1;
    runs->count = 0;
    if (!runs->objects || !runs->starts || !runs->counts) {
        runs_free(runs);
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static size_t
runs_slot(const Runs *runs, PyObject *object)
{
    size_t slot = (size_t)(((uintptr_t)object >> 4) * 0x9E3779B97F4A7C15u) & runs->mask;
    while (runs->objects[slot] && runs->objects[slot] != object) {
        slot = (slot + 1) & runs->mask;
    }
    return slot;
}

/* ``object``'s run, kept at ``slot`` (from runs_slot); the table grows at half full. */
static int
runs_add(Runs *runs, size_t slot, PyObject *object, uint32_t start, uint32_t count)
{
    Py_INCREF(object);
    runs->objects[slot] = object;
    runs->starts[slot] = start;
    runs->counts[slot] = count;
    if (2 * ++runs->count <= runs->mask + 1) {
        return 0;
    }
    Runs grown;
    if (runs_init(&grown, 2 * (runs->mask + 1)) < 0) {
        return -1;
    }
    for (size_t old = 0; old <= runs->mask; old++) {
        if (runs->objects[old]) {
            const size_t moved = runs_slot(&grown, runs->objects[old]);
            grown.objects[moved] = runs->objects[old];
            grown.starts[moved] = runs->starts[old];
            grown.counts[moved] = runs->counts[old];
            runs->objects[old] = NULL; /* its reference moves with it */
        }
    }
    grown.count = runs->count;
    runs_free(runs);
    *runs = grown;
    return 0;
}

/* One (anchor, labels) pair into its trie. */
static int
read_anchor(Scanner *self, PyObject *item, BuildingTrie *starts, BuildingTrie *ends, Runs *runs, size_t *count,
            size_t *capacity)
{
    if (!PyTuple_Check(item) || PyTuple_Size(item) != 2 || !PyUnicode_Check(PyTuple_GetItem(item, 0))) {
        PyErr_SetString(PyExc_TypeError, "anchors are (str, labels) tuples");
        return -1;
    }
    PyObject *anchor = PyTuple_GetItem(item, 0), *held = PyTuple_GetItem(item, 1);
    Py_ssize_t length;
    const unsigned char *bytes = ascii_of(anchor, &length);
    if (!bytes) {
        return 0; /* an anchor with another character can never be in the (ASCII) text */
    }
    const int start = length > 1 && bytes[0] == SEPARATOR;
    const int end = length > 1 && bytes[length - 1] == SEPARATOR;
    const unsigned char *inner = bytes + start;
    const size_t inner_length = length - start - end;
    if (start == end || memchr(inner, SEPARATOR, inner_length) || memchr(inner, LINE_END, inner_length)) {
        PyErr_Format(PyExc_ValueError, "two-typo anchor %R is not tied to one word boundary", anchor);
        return -1;
    }
    const size_t slot = runs_slot(runs, held);
    uint32_t run_start = runs->starts[slot], run_count = runs->counts[slot];
    if (!runs->objects[slot]) {
        const size_t first = *count;
        if (read_numbers(self, held, &self->labels, count, capacity) < 0) {
            return -1;
        }
        run_start = (uint32_t)first;
        run_count = (uint32_t)(*count - first);
        if (runs_add(runs, slot, held, run_start, run_count) < 0) {
            return -1;
        }
    }
    return building_add(start ? starts : ends, inner, inner_length, end, run_start, run_count);
}

static int
read_anchors(Scanner *self, PyObject *anchors)
{
    BuildingTrie starts = {0}, ends = {0};
    Runs runs = {0};
    size_t count = 0, capacity = 1024;
    self->labels = PyMem_Malloc(capacity * sizeof(uint32_t));
    PyObject *iterator = NULL, *item;
    if (!self->labels) {
        PyErr_NoMemory();
    }
    else if (building_init(&starts) == 0 && building_init(&ends) == 0 && runs_init(&runs, 1024) == 0) {
        iterator = PyObject_GetIter(anchors);
    }
    while (iterator && (item = PyIter_Next(iterator))) {
        const int failed = read_anchor(self, item, &starts, &ends, &runs, &count, &capacity) < 0;
        Py_DECREF(item);
        if (failed) {
            break;
        }
    }
    Py_XDECREF(iterator);
    runs_free(&runs);
    if (PyErr_Occurred()) {
        PyMem_Free(starts.nodes);
        PyMem_Free(ends.nodes);
        return -1;
    }
    const int frozen = building_freeze(&starts, &self->starts, self->labels, self->skeleton_lengths);
    if (frozen < 0 || building_freeze(&ends, &self->ends, self->labels, self->skeleton_lengths) < 0) {
        PyMem_Free(ends.nodes);
        return -1;
    }
    return 0;
}

/* An instance of one of this module's heap types, freed: its type's memory and its reference to the type. */
static void
free_instance(PyObject *object)
{
    PyTypeObject *type = Py_TYPE(object);
    freefunc free_object = (freefunc)PyType_GetSlot(type, Py_tp_free);
    free_object(object);
    Py_DECREF(type);
}

static void
Scanner_dealloc(PyObject *object)
{
    Scanner *self = (Scanner *)object;
    byteset_free(&self->variants);
    exact_free(&self->exact);
    PyMem_Free(self->starts.pool);
    PyMem_Free(self->starts.runs);
    PyMem_Free(self->starts.top[0]);
    PyMem_Free(self->ends.pool);
    PyMem_Free(self->ends.runs);
    PyMem_Free(self->ends.top[0]);
    PyMem_Free(self->labels);
    PyMem_Free(self->skeletons);
    PyMem_Free(self->skeleton_offsets);
    PyMem_Free(self->skeleton_lengths);
    PyMem_Free(self->seen);
    PyMem_Free(self->candidates);
    PyMem_Free(self->rows);
    free_instance(object);
}

static PyObject *
Scanner_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"variants", "anchors", "skeletons", "pairs", "fold", NULL};
    PyObject *variants, *anchors, *skeletons, *pairs;
    Py_buffer fold;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOOy*:PieceScanner", keywords, &variants, &anchors,
                                     &skeletons, &pairs, &fold)) {
        return NULL;
    }
    const int fold_fits = fold.len == 256;
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Scanner *self = fold_fits ? (Scanner *)alloc(type, 0) : NULL;
    if (self) {
        memcpy(self->fold, fold.buf, 256);
        for (int ch = 0; ch < 256; ch++) {
            const int plain = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'
                              || ch == '_' || ch == LINE_END;
            for (int before = 0; before < 256; before++) {
                self->never_read[LAST_TWO(before, ch)] = !plain;
            }
        }
        self->never_read[LAST_TWO('.', '.')] = self->never_read[LAST_TWO(LINE_END, '.')] = 1;
        self->never_read[LAST_TWO('.', LINE_END)] = 1;
    }
    PyBuffer_Release(&fold);
    if (!fold_fits) {
        PyErr_SetString(PyExc_ValueError, "the fold table has 256 bytes");
    }
    if (!self) {
        return NULL;
    }
    if (read_pairs(pairs, self->pairs, self->merged, &self->pair_count) < 0 || index_pairs(self) < 0
        || read_skeletons(self, skeletons) < 0
        || exact_build(&self->exact, self->skeletons, self->skeleton_offsets, self->skeleton_lengths,
                       self->label_count, 0) < 0
        || read_variants(self, variants) < 0 || read_anchors(self, anchors) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* ``letters`` with the skeleton pairs merged, into ``out`` (as long as ``letters`` at most), as bulk.py's
 * str.replace calls, one pair after another, merge them: read_pairs made sure that no pair shares a letter
 * with another or with what a pair merges into, so one pass reading each letter after the last one
 * written merges the same ones. */
static size_t
merge_pairs(const Scanner *self, const unsigned char *letters, size_t length, unsigned char *out)
{
    if (length == 0) {
        return 0;
    }
    unsigned char last = out[0] = letters[0];
    size_t written = 1;
    for (size_t i = 1; i < length; i++) {
        const unsigned char ch = letters[i];
        if (self->second_of[last] == ch) {
            last = out[written - 1] = self->merged_of[last];
        }
        else {
            last = out[written++] = ch;
        }
    }
    return written;
}

/* Whether the skeleton ``piece``, where ``merged`` pairs were merged, is within two typos of a label tied
 * to an anchor it starts or ends with: bulk.py's _two_typo_ends. */
static int
near_a_label(Scanner *self, const unsigned char *piece, Py_ssize_t length, Py_ssize_t merged)
{
    if (++self->piece_number == 0) {
        memset(self->seen, 0, self->label_count * sizeof(uint32_t));
        self->piece_number = 1;
    }
    const Py_ssize_t slack = TWO_TYPOS + EDITS_PER_MERGED_PAIR * merged;
    const uint32_t near_lengths = lengths_between(length - slack, length + slack);
    Py_ssize_t found = 0;
    for (int backwards = 0; backwards < 2; backwards++) {
        const Trie *trie = backwards ? &self->ends : &self->starts;
        uint32_t node = 0;
        size_t code = 0;
        for (Py_ssize_t i = 0; i < length && trie->pool[node + RECORD_LENGTHS] & near_lengths; i++) {
            const unsigned char ch = piece[backwards ? length - 1 - i : i];
            if (i < trie->top_depth) {
                code = code * trie->columns + trie->column_of[ch];
                node = trie->top[i][code];
            }
            else {
                node = trie_child(trie, node, ch);
            }
            if (!node) {
                break;
            }
            const Run run = trie->runs[trie->pool[node + RECORD_RUN]];
            for (uint32_t k = 0; k < run.count; k++) {
                const uint32_t label = self->labels[run.start + k];
                const Py_ssize_t label_length = self->skeleton_lengths[label];
                if (self->seen[label] != self->piece_number && label_length >= length - slack
                    && label_length <= length + slack) {
                    self->seen[label] = self->piece_number;
                    self->candidates[found++] = label;
                }
            }
        }
    }
    for (Py_ssize_t k = 0; k < found; k++) {
        const uint32_t label = self->candidates[k];
        if (osa_within(piece, length, self->skeletons + self->skeleton_offsets[label],
                       self->skeleton_lengths[label], slack, self->rows)) {
            return 1;
        }
    }
    return 0;
}

typedef struct {
    Py_ssize_t line;
    size_t start, length; /* in the skeleton text */
} Near;

typedef struct {
    unsigned char *flags; /* per line: holds a label's skeleton */
    Near *near;
    size_t near_count, near_capacity;
    ByteSet spelled; /* skeletons of pieces whose letters, not skeleton, are a variant */
} Found;

/* The pieces of a chunk, read in its letters and its skeleton at once (both hold the same pieces: the
 * skeleton pairs never take in a separator or a line end). */
typedef struct {
    const unsigned char *letters, *skeletons;
    size_t letters_length, skeletons_length;
    size_t next_letter, next_skeleton; /* where the next piece starts */
    int ended;
    /* The piece read: */
    Py_ssize_t line;
    const unsigned char *letter;
    size_t letter_length;
    size_t skeleton_start, skeleton_length; /* in skeletons */
} Pieces;

static Pieces
pieces_of(const unsigned char *letters, size_t letters_length, const unsigned char *skeletons,
          size_t skeletons_length)
{
    return (Pieces){letters, skeletons, letters_length, skeletons_length, 0, 0, 0, 0, NULL, 0, 0, 0};
}

static inline size_t
piece_end(const unsigned char *text, size_t length, size_t at)
{
    while (at < length && text[at] != SEPARATOR && text[at] != LINE_END) {
        at++;
    }
    return at;
}

static inline int
next_piece(Pieces *pieces)
{
    if (pieces->ended) {
        return 0;
    }
    if (pieces->next_letter) {
        pieces->line += pieces->letters[pieces->next_letter - 1] == LINE_END;
    }
    const size_t letter_end = piece_end(pieces->letters, pieces->letters_length, pieces->next_letter);
    const size_t skeleton_end = piece_end(pieces->skeletons, pieces->skeletons_length, pieces->next_skeleton);
    pieces->letter = pieces->letters + pieces->next_letter;
    pieces->letter_length = letter_end - pieces->next_letter;
    pieces->skeleton_start = pieces->next_skeleton;
    pieces->skeleton_length = skeleton_end - pieces->next_skeleton;
    pieces->ended = letter_end == pieces->letters_length;
    pieces->next_letter = letter_end + 1;
    pieces->next_skeleton = skeleton_end + 1;
    return 1;
}

static int
add_near(Found *found, Py_ssize_t line, size_t start, size_t length)
{
    if (found->near_count == found->near_capacity) {
        const size_t capacity = found->near_capacity ? 2 * found->near_capacity : 256;
        Near *grown = PyMem_Realloc(found->near, capacity * sizeof(Near));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        found->near = grown;
        found->near_capacity = capacity;
    }
    found->near[found->near_count++] = (Near){line, start, length};
    return 0;
}

typedef struct {
    Py_ssize_t line;
    const unsigned char *letter;
    size_t letter_length, skeleton_start, skeleton_length;
    int spelled_apart; /* its letters are not its skeleton */
    uint64_t skeleton_hash, letter_hash;
} Piece;

static int
scan_pieces(Scanner *self, const unsigned char *letters, size_t letters_length, const unsigned char *skeletons,
            size_t skeletons_length, Found *found)
{
    const ByteSet *variants = &self->variants;
    const int anchored = self->starts.pool[RECORD_LENGTHS] || self->ends.pool[RECORD_LENGTHS];
    Pieces pieces = pieces_of(letters, letters_length, skeletons, skeletons_length);
    Piece batch[BATCH];
    int count;
    do {
        for (count = 0; count < BATCH && next_piece(&pieces); count++) {
            Piece *piece = &batch[count];
            const unsigned char *skeleton = skeletons + pieces.skeleton_start;
            *piece = (Piece){pieces.line, pieces.letter, pieces.letter_length, pieces.skeleton_start,
                             pieces.skeleton_length, 0, 0, 0};
            if (!variants->count) {
                continue;
            }
            piece->skeleton_hash = hash_bytes(skeleton, piece->skeleton_length);
            PREFETCH(&variants->slots[piece->skeleton_hash & variants->mask]);
            piece->spelled_apart = piece->letter_length != piece->skeleton_length
                                   || memcmp(piece->letter, skeleton, piece->skeleton_length);
            if (piece->spelled_apart) {
                piece->letter_hash = hash_bytes(piece->letter, piece->letter_length);
                PREFETCH(&variants->slots[piece->letter_hash & variants->mask]);
            }
        }
        for (int k = 0; k < count; k++) {
            const Piece *piece = &batch[k];
            const unsigned char *skeleton = skeletons + piece->skeleton_start;
            const size_t length = piece->skeleton_length;
            if (variants->count) {
                int typo = byteset_contains(variants, skeleton, length, piece->skeleton_hash);
                /* A piece whose letters are a variant makes every piece with its skeleton count. */
                if (piece->spelled_apart
                    && byteset_contains(variants, piece->letter, piece->letter_length, piece->letter_hash)) {
                    typo = 1;
                    if (byteset_add(&found->spelled, skeleton, length, piece->skeleton_hash) < 0) {
                        return -1;
                    }
                }
                if (typo && add_near(found, piece->line, piece->skeleton_start, length) < 0) {
                    return -1;
                }
            }
            /* Each pair merged took one letter out of the piece. */
            const Py_ssize_t merged = (Py_ssize_t)(piece->letter_length - length);
            if (anchored && length && near_a_label(self, skeleton, (Py_ssize_t)length, merged)
                && add_near(found, piece->line, piece->skeleton_start, length) < 0) {
                return -1;
            }
        }
    } while (count == BATCH);
    if (found->spelled.count) {
        /* Every line with one of those skeletons, as the Python automaton of the variants found has it. */
        pieces = pieces_of(letters, letters_length, skeletons, skeletons_length);
        while (next_piece(&pieces)) {
            const unsigned char *skeleton = skeletons + pieces.skeleton_start;
            const size_t length = pieces.skeleton_length;
            if (byteset_contains(&found->spelled, skeleton, length, hash_bytes(skeleton, length))
                && add_near(found, pieces.line, pieces.skeleton_start, length) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* The numbers of the lines flagged in ``flags``, a set. */
static PyObject *
flagged_lines(const unsigned char *flags, size_t lines)
{
    PyObject *flagged = PySet_New(NULL);
    for (size_t line = 0; flagged && line < lines; line++) {
        if (flags[line]) {
            PyObject *number = PyLong_FromSize_t(line);
            const int added = number ? PySet_Add(flagged, number) : -1;
            Py_XDECREF(number);
            if (added < 0) {
                Py_CLEAR(flagged);
            }
        }
    }
    return flagged;
}

/* (lines, near, unread): see the module's comment. */
static PyObject *
found_as_python(const Found *found, size_t lines, const unsigned char *skeletons, const unsigned char *unread)
{
    PyObject *flagged = flagged_lines(found->flags, lines);
    PyObject *near = PyList_New((Py_ssize_t)found->near_count);
    PyObject *unread_lines = flagged_lines(unread, lines);
    if (!flagged || !near || !unread_lines) {
        goto failed;
    }
    for (size_t k = 0; k < found->near_count; k++) {
        const Near *piece = &found->near[k];
        PyObject *pair = Py_BuildValue("(ns#)", piece->line, (const char *)skeletons + piece->start,
                                       (Py_ssize_t)piece->length);
        if (!pair || PyList_SetItem(near, (Py_ssize_t)k, pair) < 0) {
            goto failed;
        }
    }
    PyObject *result = PyTuple_Pack(3, flagged, near, unread_lines);
    Py_DECREF(flagged);
    Py_DECREF(near);
    Py_DECREF(unread_lines);
    return result;
failed:
    Py_XDECREF(flagged);
    Py_XDECREF(near);
    Py_XDECREF(unread_lines);
    return NULL;
}

/* The lines of ``text`` (``length`` bytes) as the bulk filter reads them, into ``out`` (as long at most):
 * each byte through the fold table, without the TLD (the last dot of a line and what follows it, as
 * bulk.py's _TLD has it), and empty if the bulk fold is not trusted with it, which ``unread`` then says (one
 * byte a line, as many as ``text`` has bytes at most): bulk.py's _unread_lines, a character a lower-case
 * plain domain does not hold, punycode ("xn--"), an empty label (".."), a dot first or last. Returns its
 * length; ``*lines``: how many lines ``text`` has.
 *
 * One pass, without a branch per byte: a line is some 15 bytes, so a branch on each line end, each dot or
 * each odd character is mispredicted often enough to cost more than the folding, and a pass of its own
 * (for the line count, for the unread lines) reads the chunk again. Each byte is written where it goes;
 * a line end is written over the line's last dot, if it has one, which leaves out what followed it, or
 * over the line's start if it is unread. */
static size_t
fold_lines(const Scanner *self, const unsigned char *text, size_t length, unsigned char *out, unsigned char *unread,
           size_t *lines)
{
    const size_t no_dot = SIZE_MAX; /* above any place in out */
    size_t written = 0, dot = no_dot, line = 0, line_start = 0;
    uint32_t last = LINE_END; /* the text starts as if after a line end: a dot first is one */
    unsigned char misread = 0;
    for (size_t i = 0; i < length; i++) {
        const unsigned char ch = text[i];
        const int line_end = ch == LINE_END;
        last = last << 8 | ch;
        misread |= self->never_read[last & 0xFFFF] | (last == LAST_FOUR('x', 'n', '-', '-'));
        unread[line] = misread;
        const size_t end_at = misread ? line_start : dot < written ? dot : written;
        const size_t at = line_end ? end_at : written;
        out[at] = line_end ? LINE_END : self->fold[ch];
        written = at + 1;
        dot = ch == '.' ? at : line_end ? no_dot : dot;
        line_start = line_end ? written : line_start;
        misread = line_end ? 0 : misread;
        line += line_end;
    }
    /* The last line, which no line end closes. */
    misread |= (last & 0xFF) == '.';
    unread[line] = misread;
    *lines = line + 1;
    return misread ? line_start : dot < written ? dot : written;
}

static PyObject *
Scanner_scan(PyObject *object, PyObject *chunk)
{
    Scanner *self = (Scanner *)object;
    Py_buffer view;
    if (PyObject_GetBuffer(chunk, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    const unsigned char *text = view.buf;
    const size_t length = (size_t)view.len;
    PyObject *result = NULL;
    Found found = {0};
    size_t lines = 0;
    unsigned char *letters = PyMem_Malloc(length + 1);
    unsigned char *skeletons = PyMem_Malloc(length + 1);
    unsigned char *unread = PyMem_Malloc(length + 1);
    const size_t letters_length = letters && unread ? fold_lines(self, text, length, letters, unread, &lines) : 0;
    found.flags = letters && unread ? PyMem_Calloc(lines, 1) : NULL;
    if (!letters || !skeletons || !unread || !found.flags) {
        PyErr_NoMemory();
    }
    else if (byteset_init(&found.spelled, 0) == 0) {
        const size_t skeletons_length = merge_pairs(self, letters, letters_length, skeletons);
        if (scan_pieces(self, letters, letters_length, skeletons, skeletons_length, &found) == 0) {
            exact_scan(&self->exact, skeletons, skeletons_length, found.flags);
            result = found_as_python(&found, lines, skeletons, unread);
        }
    }
    byteset_free(&found.spelled);
    PyMem_Free(unread);
    PyMem_Free(found.flags);
    PyMem_Free(found.near);
    PyMem_Free(letters);
    PyMem_Free(skeletons);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef Scanner_methods[] = {
    {"scan", Scanner_scan, METH_O,
     "scan(chunk: bytes) -> (lines: set[int], near: list[tuple[int, str]], unread: set[int])\n\n"
     "Of a chunk of domains (lower case, UTF-8, one a line), folded as the bulk filter reads it: the\n"
     "lines holding a label's skeleton (separators skipped); (line, skeleton) of each piece that is a\n"
     "one-typo variant or within two typos of a label; the lines it leaves unread (any character a\n"
     "lower-case plain domain does not hold, punycode, an empty label, a dot first or last)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Scanner_slots[] = {
    {Py_tp_new, Scanner_new},
    {Py_tp_dealloc, Scanner_dealloc},
    {Py_tp_methods, Scanner_methods},
    {Py_tp_doc,
     "PieceScanner(variants, anchors, skeletons, pairs, fold)\n\n"
     "variants: the matcher's one-typo table keys (str); anchors: (anchor, labels) tuples, each anchor\n"
     "'|start' or 'end|', labels.numbers the label numbers it stands for; skeletons: each label's\n"
     "skeleton, by number; pairs: the skeleton pairs, (two letters, the letter they read as); fold:\n"
     "the 256-byte table that folds a chunk, separators to '|'."},
    {0, NULL},
};

static PyType_Spec Scanner_spec = {
    .name = "brandcrawl.matching._bulkscan.PieceScanner",
    .basicsize = sizeof(Scanner),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Scanner_slots,
};

/* ---- Prefixes: which short strings start a word of a table ---------------------------------------
 * Reading a token's words looks up every string starting at each of its places, up to the longest word:
 * most strings of a token start no word after a few letters. A bit per string of two, three and four
 * letters or digits says whether a word of the table starts so; a walk stops at the first that does not,
 * without hashing the longer ones. */

#define PREFIX_SYMBOLS 36 /* a-z, 0-9 */
#define PREFIX_BITS (PREFIX_SYMBOLS * PREFIX_SYMBOLS * (1 + PREFIX_SYMBOLS * (1 + PREFIX_SYMBOLS)))

typedef struct {
    unsigned char *bits; /* strings of two, then three, then four symbols */
} Prefixes;

static inline int
prefix_symbol(unsigned char ch)
{
    return ch >= 'a' && ch <= 'z' ? ch - 'a' : ch >= '0' && ch <= '9' ? 26 + ch - '0' : -1;
}

/* The bit of ``text`` (2 to 4 characters), or -1 for a character that is no symbol. */
static inline Py_ssize_t
prefix_bit(const unsigned char *text, Py_ssize_t length)
{
    static const Py_ssize_t offsets[5] = {0, 0, 0, PREFIX_SYMBOLS * PREFIX_SYMBOLS,
                                          PREFIX_SYMBOLS * PREFIX_SYMBOLS * (1 + PREFIX_SYMBOLS)};
    Py_ssize_t bit = 0;
    for (Py_ssize_t k = 0; k < length; k++) {
        const int symbol = prefix_symbol(text[k]);
        if (symbol < 0) {
            return -1;
        }
        bit = bit * PREFIX_SYMBOLS + symbol;
    }
    return offsets[length] + bit;
}

static int
prefixes_init(Prefixes *prefixes)
{
    prefixes->bits = PyMem_Calloc(PREFIX_BITS / 8 + 1, 1);
    if (!prefixes->bits) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
prefixes_add(Prefixes *prefixes, const unsigned char *word, Py_ssize_t length)
{
    for (Py_ssize_t size = 2; size <= 4 && size <= length; size++) {
        const Py_ssize_t bit = prefix_bit(word, size);
        if (bit >= 0) {
            prefixes->bits[bit / 8] |= (unsigned char)(1 << (bit % 8));
        }
    }
}

/* Whether a word of the table may start with ``text`` (of ``length`` characters): 0 only where a string
 * of two to four symbols starts none. */
static inline int
prefixes_may_start(const Prefixes *prefixes, const unsigned char *text, Py_ssize_t length)
{
    if (length < 2 || length > 4) {
        return 1;
    }
    const Py_ssize_t bit = prefix_bit(text, length);
    return bit < 0 || (prefixes->bits[bit / 8] >> (bit % 8) & 1);
}

/* ---- Readings: words.py's straddles ----------------------------------------------------------------
 * Readings(words, costs, brand_cost, longest_number) holds words.dictionary(): what reading each word
 * costs. straddles(token, start, end) answers what words.straddles answers, for an ASCII token of at most
 * MAX_TOKEN characters (None for any other: words.py reads those): whether the token reads better as words
 * token[start:end] crosses than as that label with words around it. The LabelJudge below asks it too. */

/* The longest token read here (matcher.MAX_WORD is 63), and the longest word the dictionary may hold
 * (words.LONGEST_WORD is 24). */
#define MAX_TOKEN 64
#define MAX_DICTIONARY_WORD 32

typedef struct {
    PyObject_HEAD
    ByteSet costs; /* word -> what reading it costs (a double) */
    Prefixes prefixes;
    Py_ssize_t longest_word, longest_number;
    double brand_cost;
} Readings;

static inline double
word_cost(const Readings *self, const unsigned char *word, Py_ssize_t length)
{
    const unsigned char *value = byteset_find(&self->costs, word, (size_t)length, hash_bytes(word, (size_t)length));
    double cost = INFINITY;
    if (value) {
        memcpy(&cost, value, sizeof(cost));
    }
    return cost;
}

/* The words of a token: words.py's _words_at, as one list by where they start, then where they end (at
 * most MAX_DICTIONARY_WORD words and as many numbers start at one place). */
typedef struct {
    Py_ssize_t first[MAX_TOKEN + 1]; /* the words starting at i: first[i] .. first[i + 1] */
    unsigned char stops[MAX_TOKEN * 2 * MAX_DICTIONARY_WORD];
    double costs[MAX_TOKEN * 2 * MAX_DICTIONARY_WORD];
} TokenWords;

static inline int
is_digit(unsigned char ch)
{
    return ch >= '0' && ch <= '9';
}

/* The dictionary's words in ``token``, and every run of digits in it, each a word of one (a number beside
 * a brand reads as part of the listing): by start, nearest end first. */
static void
token_words(const Readings *self, const unsigned char *token, Py_ssize_t length, TokenWords *words)
{
    Py_ssize_t count = 0, digits_end = 0;
    for (Py_ssize_t begin = 0; begin < length; begin++) {
        words->first[begin] = count;
        if (is_digit(token[begin]) && (begin == 0 || !is_digit(token[begin - 1]))) {
            for (digits_end = begin; digits_end < length && is_digit(token[digits_end]); digits_end++) {
            }
        }
        /* A number's ends, after a digit only: begin + 1 .. the run's end, at most longest_number on. */
        Py_ssize_t number_stop = is_digit(token[begin]) ? begin + 1 : length + 1;
        const Py_ssize_t number_last = begin + self->longest_number < digits_end ? begin + self->longest_number
                                                                                 : digits_end;
        for (Py_ssize_t size = 1; size <= self->longest_word && begin + size <= length; size++) {
            if (!prefixes_may_start(&self->prefixes, token + begin, size)) {
                break;
            }
            const double cost = word_cost(self, token + begin, size);
            if (cost == INFINITY) {
                continue;
            }
            for (; number_stop <= number_last && number_stop <= begin + size; number_stop++) {
                words->stops[count] = (unsigned char)number_stop;
                words->costs[count++] = 1.0;
            }
            words->stops[count] = (unsigned char)(begin + size);
            words->costs[count++] = cost;
        }
        for (; number_stop <= number_last; number_stop++) {
            words->stops[count] = (unsigned char)number_stop;
            words->costs[count++] = 1.0;
        }
    }
    words->first[length] = count;
}

/* words.py's _reading: the cheapest reading as words of the token from ``first`` to ``last``, never
 * cutting at ``avoid`` or ``also_avoid`` (-1: nowhere). */
static double
reading(const TokenWords *words, Py_ssize_t first, Py_ssize_t last, Py_ssize_t avoid, Py_ssize_t also_avoid)
{
    double best[MAX_TOKEN + 1];
    for (Py_ssize_t i = first; i <= last; i++) {
        best[i] = INFINITY;
    }
    best[first] = 0.0;
    for (Py_ssize_t begin = first; begin < last; begin++) {
        const double here = best[begin];
        if (here == INFINITY || (begin != first && (begin == avoid || begin == also_avoid))) {
            continue;
        }
        for (Py_ssize_t k = words->first[begin]; k < words->first[begin + 1]; k++) {
            const Py_ssize_t stop = words->stops[k];
            if (stop > last) {
                break;
            }
            if ((stop == avoid || stop == also_avoid) && stop != last) {
                continue;
            }
            if (here + words->costs[k] < best[stop]) {
                best[stop] = here + words->costs[k];
            }
        }
    }
    return best[last];
}

/* words.py's straddles; ``length`` at most MAX_TOKEN. */
static int
straddles(const Readings *self, const unsigned char *token, Py_ssize_t length, Py_ssize_t start, Py_ssize_t end)
{
    TokenWords words;
    token_words(self, token, length, &words);
    const double respecting =
        reading(&words, 0, start, -1, -1) + self->brand_cost + reading(&words, end, length, -1, -1);
    const Py_ssize_t avoid = start != 0 && start != length ? start : -1;
    const Py_ssize_t also_avoid = end != 0 && end != length ? end : -1;
    return reading(&words, 0, length, avoid, also_avoid) < respecting;
}

static PyObject *
Readings_straddles(PyObject *object, PyObject *args)
{
    PyObject *token;
    Py_ssize_t start, end;
    if (!PyArg_ParseTuple(args, "Unn:straddles", &token, &start, &end)) {
        return NULL;
    }
    Py_ssize_t length;
    const unsigned char *bytes = ascii_of(token, &length);
    if (!bytes || length > MAX_TOKEN) {
        Py_RETURN_NONE;
    }
    if (start < 0 || start > end || end > length) {
        PyErr_Format(PyExc_ValueError, "%zd:%zd is not a span of a token of %zd characters", start, end, length);
        return NULL;
    }
    return PyBool_FromLong(straddles((const Readings *)object, bytes, length, start, end));
}

static void
Readings_dealloc(PyObject *object)
{
    byteset_free(&((Readings *)object)->costs);
    PyMem_Free(((Readings *)object)->prefixes.bits);
    free_instance(object);
}

/* Each word (a list of str) given its cost (a buffer of doubles, in that order: an array("d")), read
 * from a tuple of the words: reading them runs no code that could free one. */
static int
read_costs(Readings *self, PyObject *words, PyObject *costs)
{
    Py_buffer view = {0};
    PyObject *word_tuple = PyList_Check(words) ? PySequence_Tuple(words) : NULL;
    const Py_ssize_t count = word_tuple ? PyTuple_Size(word_tuple) : -1;
    int result = -1;
    const int viewed = word_tuple && PyObject_GetBuffer(costs, &view, PyBUF_FORMAT) == 0;
    if (!viewed || view.itemsize != sizeof(double) || !view.format || strcmp(view.format, "d") != 0
        || view.len != count * (Py_ssize_t)sizeof(double)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_TypeError, "the dictionary is a list of words and an array('d') of as many costs");
        goto done;
    }
    if (byteset_init(&self->costs, (size_t)count) < 0 || prefixes_init(&self->prefixes) < 0) {
        goto done;
    }
    self->costs.value_size = sizeof(double);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *word = PyTuple_GetItem(word_tuple, i);
        double cost;
        memcpy(&cost, (const char *)view.buf + i * (Py_ssize_t)sizeof(double), sizeof(cost));
        if (!PyUnicode_Check(word)) {
            PyErr_SetString(PyExc_TypeError, "words are str");
            goto done;
        }
        Py_ssize_t length;
        const unsigned char *bytes = ascii_of(word, &length);
        if (!bytes) {
            continue; /* a word with another character is never in an ASCII token */
        }
        if (length > MAX_DICTIONARY_WORD) {
            PyErr_Format(PyExc_ValueError, "dictionary word %R is longer than %d letters", word, MAX_DICTIONARY_WORD);
            goto done;
        }
        const uint64_t hash = hash_bytes(bytes, (size_t)length);
        if (byteset_add(&self->costs, bytes, (size_t)length, hash) < 0) {
            goto done;
        }
        memcpy(byteset_find(&self->costs, bytes, (size_t)length, hash), &cost, sizeof(cost));
        prefixes_add(&self->prefixes, bytes, length);
        self->longest_word = length > self->longest_word ? length : self->longest_word;
    }
    result = 0;
done:
    if (viewed) {
        PyBuffer_Release(&view);
    }
    Py_XDECREF(word_tuple);
    return result;
}

static PyObject *
Readings_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"words", "costs", "brand_cost", "longest_number", NULL};
    PyObject *words, *costs;
    double brand_cost;
    Py_ssize_t longest_number;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOdn:Readings", keywords, &words, &costs, &brand_cost,
                                     &longest_number)) {
        return NULL;
    }
    if (longest_number < 1 || longest_number > MAX_DICTIONARY_WORD) {
        PyErr_Format(PyExc_ValueError, "longest_number is 1 to %d", MAX_DICTIONARY_WORD);
        return NULL;
    }
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Readings *self = (Readings *)alloc(type, 0);
    if (!self) {
        return NULL;
    }
    self->brand_cost = brand_cost;
    self->longest_number = longest_number;
    if (read_costs(self, words, costs) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyMethodDef Readings_methods[] = {
    {"straddles", Readings_straddles, METH_VARARGS,
     "straddles(token: str, start: int, end: int) -> bool | None\n\n"
     "What words.straddles answers, for an ASCII token of at most 64 characters; None for any other."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Readings_slots[] = {
    {Py_tp_new, Readings_new},
    {Py_tp_dealloc, Readings_dealloc},
    {Py_tp_methods, Readings_methods},
    {Py_tp_doc,
     "Readings(words, costs, brand_cost, longest_number)\n\n"
     "words, costs: words.dictionary()'s words (a list) and what reading each costs (an array('d'),\n"
     "in the same order);\n"
     "brand_cost: words.BRAND_COST; longest_number: words.LONGEST_WORD, the longest number read."},
    {0, NULL},
};

static PyType_Spec Readings_spec = {
    .name = "brandcrawl.matching._bulkscan.Readings",
    .basicsize = sizeof(Readings),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Readings_slots,
};

/* ---- The words around a label: the matcher's _labels_only_say_no, for plain domains -----------------
 * LabelJudge(labels, words, ...) is built once per watch-list from the matcher's own tables; settle(domains)
 * answers, for each domain the bulk filter found a label in but no word that may be a typo, what
 * BrandMatcher._labels_only_say_no answers: whether the words around every label it holds say it is not
 * the brand, or that it crosses them (True: no need to match it), or that one may stand (False); or None
 * where it does not decide
 * and the matcher's own code does: a domain with a word that starts with a digit (a number, read as
 * written where the bulk filter reads its digits as letters), an underscore or any other character than
 * letters, digits, hyphens and dots, an empty label, punycode, over 253 characters, or a label of a brand
 * with affixes of its own. Most picks of a feed are settled here, at a microsecond each, not in Python at
 * twenty (building the domain's region is most of that).
 *
 * The domain is read as candidates.domain_region reads a plain one (its www labels and public suffix left
 * out, the rest folded into words, text.py's _fold_plain), its labels found in its skeleton (text.py's
 * _skeleton), and each place is judged by matcher.py's rule (_words_around_say_no, and the affixes by
 * words.py's splits_into_words and matcher.py's _splits_into, the crossing by words.py's straddles). The
 * words table holds what words.py knows of each word: the bits below, worked out here from its own
 * thresholds, and what reading it costs, from its dictionary. */

enum {
    IS_IN_WORD = 1,       /* common enough that a brand inside it is not the brand (words.IN_WORD) */
    IS_WORD = 2,          /* common enough to stand beside a brand (words.WORD) */
    IS_WORD_SHORT = 4,    /* ... for two letters (words.WORD_SHORT) */
    IS_SHORT_AFFIX = 8,   /* words.SHORT_AFFIXES */
    IS_COMMERCE = 16,     /* words.COMMERCE_AFFIXES */
    IS_SECOND_LEVEL = 32, /* candidates.SECOND_LEVEL: co.uk's co */
    IS_PLURAL = 64,       /* matcher.PLURALS */
};

/* Per label: */
enum {
    COMMON_WORD = 1, /* stands only with commerce words beside it */
    OWN_AFFIXES = 2, /* its brand adds affixes of its own: left to the matcher */
};

#define MAX_DOMAIN 253 /* the longest DNS name */
#define UNDECIDED -1
#define MAY_STAND 0
#define SAYS_NO 1

typedef struct {
    PyObject_HEAD
    Exact exact;
    ByteSet words; /* word -> its bits above */
    Prefixes prefixes;
    unsigned char *texts;
    size_t *text_offsets;
    Py_ssize_t *text_lengths, *skeleton_lengths;
    unsigned char *kinds; /* per label: its bits above */
    Py_ssize_t label_count, max_word;
    PyObject *readings; /* a Readings */
    unsigned char pairs[MAX_PAIRS][2], merged[MAX_PAIRS];
    int pair_count;
    unsigned char letters[256]; /* text.py's SKELETON_LETTERS */
    unsigned char leet[256];    /* text.py's LEET_DIGITS */
} Judge;

/* A plain domain's region, read. */
typedef struct {
    unsigned char text[MAX_DOMAIN + 1];
    unsigned char digit[MAX_DOMAIN + 1];  /* per text index: written as a digit (leetspeak aside) */
    unsigned char starts[MAX_DOMAIN + 2]; /* per text index: a word starts there */
    Py_ssize_t length;
    unsigned char skeleton[MAX_DOMAIN + 1];
    Py_ssize_t to_text[MAX_DOMAIN + 2]; /* text index of each skeleton character, then the text's length */
    Py_ssize_t skeleton_length;
} Region;

static inline unsigned char
word_bits(const Judge *self, const unsigned char *word, Py_ssize_t length)
{
    const unsigned char *value = byteset_find(&self->words, word, (size_t)length, hash_bytes(word, (size_t)length));
    return value ? *value : 0;
}

/* words.is_word with the threshold ``bit`` (IS_IN_WORD or IS_WORD), of a word of ``length`` letters with
 * these ``bits``. */
static inline int
bits_say_word(unsigned char bits, Py_ssize_t length, unsigned char bit)
{
    if (length < 2) {
        return 0;
    }
    return length == 2 ? (bits & (IS_SHORT_AFFIX | IS_WORD_SHORT)) != 0 : (bits & bit) != 0;
}

static int
is_word(const Judge *self, const unsigned char *word, Py_ssize_t length, unsigned char bit)
{
    return bits_say_word(word_bits(self, word, length), length, bit);
}

/* Whether ``text`` reads as a run of pieces of at least ``shortest`` letters each: commerce words where
 * ``common`` (matcher.py's _splits_into), else commerce words, words and numbers (words.py's
 * _segments). Both try every cut. */
static int
splits(const Judge *self, const unsigned char *text, Py_ssize_t length, Py_ssize_t shortest, int common)
{
    unsigned char reads[MAX_DOMAIN + 2]; /* reads[i]: text[i:] splits */
    reads[length] = 1;
    int digits_on = 1; /* text[i:] is digits (a number: words.py's _segments reads it as a word) */
    for (Py_ssize_t i = length - 1; i >= 0; i--) {
        digits_on = digits_on && is_digit(text[i]);
        reads[i] = !common && digits_on;
        int digits_head = 1;
        for (Py_ssize_t j = i + 1; j <= length && !reads[i]; j++) {
            digits_head = digits_head && is_digit(text[j - 1]);
            const int numeric = !common && digits_head;
            if (!numeric && !prefixes_may_start(&self->prefixes, text + i, j - i)) {
                break;
            }
            if (j - i < shortest || !reads[j]) {
                continue;
            }
            const unsigned char bits = word_bits(self, text + i, j - i);
            reads[i] = common ? (bits & IS_COMMERCE) != 0
                              : numeric || (bits & IS_COMMERCE) || bits_say_word(bits, j - i, IS_WORD);
        }
    }
    return reads[0];
}

/* matcher.py's _is_number: text[start:end] was written in digits (no separator between them). */
static int
is_number(const Region *region, Py_ssize_t start, Py_ssize_t end)
{
    for (Py_ssize_t k = start; k < end; k++) {
        if (!region->digit[k] || (k > start && region->starts[k])) {
            return 0;
        }
    }
    return start < end;
}

/* matcher.py's _affix: what may stand beside the label; ``number``: it was written in digits. */
static int
is_affix(const Judge *self, const unsigned char *text, Py_ssize_t length, int common, int number)
{
    if (!length) {
        return 1;
    }
    if (number) {
        return !common; /* "gallimard2024" yes, "apple2" no */
    }
    if (common) {
        return splits(self, text, length, 1, 1);
    }
    return (word_bits(self, text, length) & IS_SHORT_AFFIX) || splits(self, text, length, 2, 0);
}

/* What the words around one place of a label say: matcher.py's _words_around_say_no, with its caller's
 * check that the label fills its words. */
static int
judge_place(const Judge *self, const Region *region, uint32_t label, Py_ssize_t start, Py_ssize_t end)
{
    Py_ssize_t word_start = start, word_end = end;
    while (!region->starts[word_start]) {
        word_start--; /* the text's start is a word's */
    }
    while (word_end < region->length && !region->starts[word_end]) {
        word_end++;
    }
    if (word_start == start && end == word_end) {
        return MAY_STAND;
    }
    for (Py_ssize_t inside = start + 1; inside < end; inside++) {
        if (region->starts[inside]) {
            return SAYS_NO; /* split across words that it does not fill */
        }
    }
    if (word_end - word_start > self->max_word) {
        return SAYS_NO;
    }
    const unsigned char *whole = region->text + word_start;
    const Py_ssize_t whole_length = word_end - word_start;
    const int is_label = whole_length == self->text_lengths[label]
                         && memcmp(whole, self->texts + self->text_offsets[label], (size_t)whole_length) == 0;
    if (!is_label && is_word(self, whole, whole_length, IS_IN_WORD)) {
        return SAYS_NO; /* inside a longer word */
    }
    if (self->kinds[label] & OWN_AFFIXES) {
        return UNDECIDED;
    }
    const int common = self->kinds[label] & COMMON_WORD;
    const int number_before = is_number(region, word_start, start), number_after = is_number(region, end, word_end);
    if (!is_affix(self, whole, start - word_start, common, number_before)) {
        return SAYS_NO;
    }
    const unsigned char *right = region->text + end;
    const Py_ssize_t right_length = word_end - end;
    const int plural = right_length && (word_bits(self, right, right_length) & IS_PLURAL);
    if (!plural && !is_affix(self, right, right_length, common, number_after)) {
        return SAYS_NO;
    }
    /* The crossing is read on the letters: a number beside the label is left out of the token. */
    const Py_ssize_t letters_start = number_before ? start : word_start;
    const Py_ssize_t letters_end = number_after ? end : word_end;
    const Readings *readings = (const Readings *)self->readings;
    const unsigned char *token = region->text + letters_start;
    return straddles(readings, token, letters_end - letters_start, start - letters_start, end - letters_start)
               ? SAYS_NO
               : MAY_STAND;
}

/* candidates.py's _plain_domain_region of ``domain`` (lower case) into ``region``; 0 if the domain is not
 * one this judge reads. */
static int
read_region(const Judge *self, const unsigned char *domain, Py_ssize_t length, Region *region)
{
    Py_ssize_t label_starts[MAX_DOMAIN + 1], label_count = 0;
    label_starts[label_count++] = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        const unsigned char ch = domain[i];
        if (ch == '.') {
            if (i == label_starts[label_count - 1]) {
                return 0; /* an empty label */
            }
            label_starts[label_count++] = i + 1;
        }
        else if (is_digit(ch) && (i == 0 || domain[i - 1] == '.' || domain[i - 1] == '-')) {
            return 0; /* a word that starts with a digit: a number, or a count with its unit ("139k") */
        }
        else if (!((ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '-')) {
            return 0;
        }
        else if (ch == '-' && i >= 2 && domain[i - 2] == 'x' && domain[i - 1] == 'n' && i + 1 < length
                 && domain[i + 1] == '-') {
            return 0; /* punycode: decoded by the matcher */
        }
    }
    if (label_count < 2 || label_starts[label_count - 1] == length) {
        return 0;
    }
    label_starts[label_count] = length + 1; /* where a label after the last would start */
    /* www labels (candidates.WWW, ^w{2,3}\d*$) while more than two are left. */
    Py_ssize_t first = 0;
    while (label_count - first > 2) {
        const unsigned char *label = domain + label_starts[first];
        const Py_ssize_t size = label_starts[first + 1] - 1 - label_starts[first];
        Py_ssize_t ws = 0, digits = 0;
        while (ws < size && ws < 3 && label[ws] == 'w') {
            ws++;
        }
        while (ws + digits < size && is_digit(label[ws + digits])) {
            digits++;
        }
        if (ws < 2 || ws + digits != size) {
            break;
        }
        first++;
    }
    /* The public suffix (candidates._suffix_start): the last label, with a second-level one before a
     * two-letter country code. */
    Py_ssize_t kept = label_count - first - 1;
    const Py_ssize_t last_size = length - label_starts[label_count - 1];
    if (label_count - first > 2 && last_size == 2) {
        const Py_ssize_t second = label_count - 2;
        const Py_ssize_t second_size = label_starts[second + 1] - 1 - label_starts[second];
        kept -= (word_bits(self, domain + label_starts[second], second_size) & IS_SECOND_LEVEL) != 0;
    }
    const Py_ssize_t from = label_starts[first], to = label_starts[first + kept] - 1;
    /* text.py's _fold_plain: a word starts at the start, after a separator, and after a separator that
     * ends the text; the digits of a word that mixes them with letters read as leetspeak (every word
     * here starts with a letter, so none is a number). */
    region->length = 0;
    memset(region->starts, 0, (size_t)(to - from) + 2);
    region->starts[0] = 1;
    int mixed = 0; /* the word being read holds a digit */
    for (Py_ssize_t i = from; i < to; i++) {
        const unsigned char ch = domain[i];
        if (ch == '.' || ch == '-') {
            region->starts[region->length] = 1;
            continue;
        }
        if (i == from || domain[i - 1] == '.' || domain[i - 1] == '-') {
            mixed = 0;
            for (Py_ssize_t k = i; k < to && domain[k] != '.' && domain[k] != '-' && !mixed; k++) {
                mixed = is_digit(domain[k]);
            }
        }
        region->digit[region->length] = is_digit(ch);
        region->text[region->length++] = mixed ? self->leet[ch] : ch;
    }
    /* text.py's _skeleton: look-alike letters read alike, pairs merged but never across words. */
    region->skeleton_length = 0;
    for (Py_ssize_t i = 0; i < region->length;) {
        const unsigned char here = self->letters[region->text[i]];
        int merged = -1;
        for (int p = 0; p < self->pair_count && i + 1 < region->length && !region->starts[i + 1]; p++) {
            if (here == self->pairs[p][0] && self->letters[region->text[i + 1]] == self->pairs[p][1]) {
                merged = p;
                break;
            }
        }
        region->to_text[region->skeleton_length] = i;
        region->skeleton[region->skeleton_length++] = merged < 0 ? here : self->merged[merged];
        i += merged < 0 ? 1 : 2;
    }
    region->to_text[region->skeleton_length] = region->length;
    return 1;
}

static int
judge_domain(const Judge *self, const unsigned char *domain, Py_ssize_t length)
{
    if (length == 0 || length > MAX_DOMAIN) {
        return UNDECIDED;
    }
    unsigned char lower[MAX_DOMAIN];
    for (Py_ssize_t i = 0; i < length; i++) {
        lower[i] = domain[i] >= 'A' && domain[i] <= 'Z' ? (unsigned char)(domain[i] + 32) : domain[i];
    }
    Region region;
    if (!read_region(self, lower, length, &region)) {
        return UNDECIDED;
    }
    const Exact *exact = &self->exact;
    int verdict = SAYS_NO; /* a domain holding no label in its region has none to stand */
    uint32_t state = 0;
    for (Py_ssize_t end = 0; end < region.skeleton_length; end++) {
        state = exact->next[state * exact->columns + exact->column_of[region.skeleton[end]]];
        for (uint32_t k = exact->first[state]; k < exact->first[state + 1]; k++) {
            const uint32_t label = exact->output[k];
            const Py_ssize_t start = end + 1 - self->skeleton_lengths[label];
            const int place = judge_place(self, &region, label, region.to_text[start], region.to_text[end + 1]);
            if (place == MAY_STAND) {
                return MAY_STAND;
            }
            if (place == UNDECIDED) {
                verdict = UNDECIDED;
            }
        }
    }
    return verdict;
}

static PyObject *
Judge_settle(PyObject *object, PyObject *domains)
{
    const Judge *self = (const Judge *)object;
    PyObject *list = PySequence_List(domains);
    if (!list) {
        return NULL;
    }
    const Py_ssize_t count = PyList_Size(list);
    PyObject *verdicts = PyList_New(count);
    for (Py_ssize_t i = 0; verdicts && i < count; i++) {
        PyObject *domain = PyList_GetItem(list, i);
        if (!PyUnicode_Check(domain)) {
            PyErr_SetString(PyExc_TypeError, "domains are str");
            Py_CLEAR(verdicts);
            break;
        }
        Py_ssize_t length;
        const unsigned char *bytes = ascii_of(domain, &length);
        const int verdict = bytes ? judge_domain(self, bytes, length) : UNDECIDED;
        PyObject *answer = verdict == UNDECIDED ? Py_None : verdict == SAYS_NO ? Py_True : Py_False;
        PyList_SetItem(verdicts, i, Py_NewRef(answer));
    }
    Py_DECREF(list);
    return verdicts;
}

/* ``word`` given ``bits`` (with those it has). */
static int
add_word(Judge *self, PyObject *word, unsigned char bits)
{
    if (!PyUnicode_Check(word)) {
        PyErr_SetString(PyExc_TypeError, "words are str");
        return -1;
    }
    Py_ssize_t length;
    const unsigned char *bytes = ascii_of(word, &length);
    if (!bytes) {
        return 0; /* a word with another character is no part of a plain domain */
    }
    const uint64_t hash = hash_bytes(bytes, (size_t)length);
    if (byteset_add(&self->words, bytes, (size_t)length, hash) < 0) {
        return -1;
    }
    *byteset_find(&self->words, bytes, (size_t)length, hash) |= bits;
    prefixes_add(&self->prefixes, bytes, length);
    return 0;
}

/* Each word of ``words`` (an iterable of str) given ``bit``. */
static int
add_words(Judge *self, PyObject *words, unsigned char bit)
{
    PyObject *iterator = PyObject_GetIter(words), *word;
    if (!iterator) {
        return -1;
    }
    while ((word = PyIter_Next(iterator))) {
        const int added = add_word(self, word, bit);
        Py_DECREF(word);
        if (added < 0) {
            break;
        }
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

/* words.frequencies(): each word given the bits of the thresholds its frequency reaches. */
static int
add_frequencies(Judge *self, PyObject *frequencies, double in_word, double word, double word_short)
{
    if (!PyDict_Check(frequencies)) {
        PyErr_SetString(PyExc_TypeError, "frequencies is a dict of str to float");
        return -1;
    }
    /* Floats only, not numbers that convert: reading them runs no code, which could change the dict
     * while it is walked. */
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(frequencies, &position, &key, &value)) {
        if (!PyFloat_CheckExact(value)) {
            PyErr_SetString(PyExc_TypeError, "frequencies is a dict of str to float");
            return -1;
        }
        const double zipf = PyFloat_AsDouble(value);
        const unsigned char bits = (zipf >= in_word ? IS_IN_WORD : 0) | (zipf >= word ? IS_WORD : 0)
                                   | (zipf >= word_short ? IS_WORD_SHORT : 0);
        if (add_word(self, key, bits) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Each label: (text, skeleton, common word, own affixes). */
static int
read_labels(Judge *self, PyObject *labels)
{
    PyObject *list = PySequence_List(labels);
    if (!list) {
        return -1;
    }
    const Py_ssize_t count = PyList_Size(list);
    size_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GetItem(list, i);
        if (!PyTuple_Check(item) || PyTuple_Size(item) != 4 || !PyUnicode_Check(PyTuple_GetItem(item, 0))
            || !PyUnicode_Check(PyTuple_GetItem(item, 1))) {
            PyErr_SetString(PyExc_TypeError, "labels are (text, skeleton, common word, own affixes) tuples");
            Py_DECREF(list);
            return -1;
        }
        total += (size_t)PyUnicode_GetLength(PyTuple_GetItem(item, 0))
                 + (size_t)PyUnicode_GetLength(PyTuple_GetItem(item, 1));
    }
    unsigned char *skeletons = PyMem_Malloc(total + 1);
    size_t *skeleton_offsets = PyMem_Malloc((count + 1) * sizeof(size_t));
    self->label_count = count;
    self->texts = PyMem_Malloc(total + 1);
    self->text_offsets = PyMem_Malloc((count + 1) * sizeof(size_t));
    self->text_lengths = PyMem_Malloc((count + 1) * sizeof(Py_ssize_t));
    self->skeleton_lengths = PyMem_Malloc((count + 1) * sizeof(Py_ssize_t));
    self->kinds = PyMem_Calloc(count + 1, 1);
    int result = -1;
    if (!skeletons || !skeleton_offsets || !self->texts || !self->text_offsets || !self->text_lengths
        || !self->skeleton_lengths || !self->kinds) {
        PyErr_NoMemory();
        goto done;
    }
    size_t text_offset = 0, skeleton_offset = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GetItem(list, i);
        const int common = PyObject_IsTrue(PyTuple_GetItem(item, 2));
        const int own_affixes = PyObject_IsTrue(PyTuple_GetItem(item, 3));
        if (common < 0 || own_affixes < 0) {
            goto done;
        }
        self->kinds[i] = (common ? COMMON_WORD : 0) | (own_affixes ? OWN_AFFIXES : 0);
        self->text_offsets[i] = text_offset;
        self->text_lengths[i] = copy_as_text(PyTuple_GetItem(item, 0), self->texts + text_offset);
        text_offset += (size_t)self->text_lengths[i];
        skeleton_offsets[i] = skeleton_offset;
        self->skeleton_lengths[i] = copy_as_text(PyTuple_GetItem(item, 1), skeletons + skeleton_offset);
        skeleton_offset += (size_t)self->skeleton_lengths[i];
    }
    result = exact_build(&self->exact, skeletons, skeleton_offsets, self->skeleton_lengths, count, 1);
done:
    PyMem_Free(skeletons);
    PyMem_Free(skeleton_offsets);
    Py_DECREF(list);
    return result;
}

static void
Judge_dealloc(PyObject *object)
{
    Judge *self = (Judge *)object;
    exact_free(&self->exact);
    byteset_free(&self->words);
    PyMem_Free(self->prefixes.bits);
    Py_XDECREF(self->readings);
    PyMem_Free(self->texts);
    PyMem_Free(self->text_offsets);
    PyMem_Free(self->text_lengths);
    PyMem_Free(self->skeleton_lengths);
    PyMem_Free(self->kinds);
    free_instance(object);
}

static PyObject *
Judge_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"labels",   "frequencies", "in_word",  "word",     "word_short", "short_affixes",
                               "commerce", "second_level", "plurals", "max_word", "readings",   "pairs",
                               "letters",  "leet",         NULL};
    PyObject *labels, *frequencies, *short_affixes, *commerce, *second_level, *plurals, *pairs, *readings;
    double in_word, word, word_short;
    Py_ssize_t max_word;
    Py_buffer letters, leet;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOdddOOOOnOOy*y*:LabelJudge", keywords, &labels,
                                     &frequencies, &in_word, &word, &word_short, &short_affixes, &commerce,
                                     &second_level, &plurals, &max_word, &readings, &pairs, &letters, &leet)) {
        return NULL;
    }
    /* The judge reads the Readings' table itself: it must be one. */
    PyObject *module = PyType_GetModule(type);
    PyObject *readings_type = module ? PyObject_GetAttrString(module, "Readings") : NULL;
    const int readable = readings_type ? Py_IS_TYPE(readings, (PyTypeObject *)readings_type) : -1;
    Py_XDECREF(readings_type);
    const int fits = readable > 0 && letters.len == 256 && leet.len == 256 && max_word >= 0 && max_word <= MAX_TOKEN;
    allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
    Judge *self = fits ? (Judge *)alloc(type, 0) : NULL;
    if (self) {
        memcpy(self->letters, letters.buf, 256);
        memcpy(self->leet, leet.buf, 256);
        self->max_word = max_word;
        self->readings = Py_NewRef(readings);
    }
    PyBuffer_Release(&letters);
    PyBuffer_Release(&leet);
    if (!fits && readable >= 0) {
        PyErr_Format(PyExc_ValueError,
                     "the letters and leet tables have 256 bytes, max_word is 0 to %d, readings a Readings",
                     MAX_TOKEN);
    }
    if (!self) {
        return NULL;
    }
    const Py_ssize_t expected = PyDict_Check(frequencies) ? PyDict_Size(frequencies) : 0;
    if (byteset_init(&self->words, (size_t)expected + 256) < 0 || prefixes_init(&self->prefixes) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->words.value_size = 1;
    if (read_pairs(pairs, self->pairs, self->merged, &self->pair_count) < 0 || read_labels(self, labels) < 0
        || add_frequencies(self, frequencies, in_word, word, word_short) < 0
        || add_words(self, short_affixes, IS_SHORT_AFFIX) < 0 || add_words(self, commerce, IS_COMMERCE) < 0
        || add_words(self, second_level, IS_SECOND_LEVEL) < 0 || add_words(self, plurals, IS_PLURAL) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static PyMethodDef Judge_methods[] = {
    {"settle", Judge_settle, METH_O,
     "settle(domains: list[str]) -> list[bool | None]\n\n"
     "For each domain, what BrandMatcher._labels_only_say_no answers (True: the words around every\n"
     "label it holds say it is not the brand, or it crosses them), or None where the matcher's own\n"
     "code decides."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot Judge_slots[] = {
    {Py_tp_new, Judge_new},
    {Py_tp_dealloc, Judge_dealloc},
    {Py_tp_methods, Judge_methods},
    {Py_tp_doc,
     "LabelJudge(*, labels, frequencies, in_word, word, word_short, short_affixes, commerce, second_level,\n"
     "           plurals, max_word, readings, pairs, letters, leet)\n\n"
     "labels: (text, skeleton, common word, own affixes) of each label, by the matcher's numbers;\n"
     "frequencies: words.frequencies(); in_word, word, word_short: its thresholds; short_affixes,\n"
     "commerce, second_level, plurals: the word sets of the same names; max_word: the longest word read\n"
     "(at most 64); readings: words.readings(), the dictionary's; pairs: the skeleton pairs, (two\n"
     "letters, the letter they read as);\n"
     "letters, leet: the 256-byte tables of the skeleton's look-alike letters and of leetspeak digits."},
    {0, NULL},
};

static PyType_Spec Judge_spec = {
    .name = "brandcrawl.matching._bulkscan.LabelJudge",
    .basicsize = sizeof(Judge),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Judge_slots,
};

static int
add_type(PyObject *module, PyType_Spec *spec, const char *name)
{
    PyObject *type = PyType_FromModuleAndSpec(module, spec, NULL);
    if (!type) {
        return -1;
    }
    const int added = PyModule_AddObjectRef(module, name, type);
    Py_DECREF(type);
    return added;
}

static int
bulkscan_exec(PyObject *module)
{
    if (add_type(module, &Scanner_spec, "PieceScanner") < 0 || add_type(module, &Readings_spec, "Readings") < 0) {
        return -1;
    }
    return add_type(module, &Judge_spec, "LabelJudge");
}

static PyModuleDef_Slot bulkscan_slots[] = {
    {Py_mod_exec, bulkscan_exec},
    {0, NULL},
};

static struct PyModuleDef bulkscan_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "brandcrawl.matching._bulkscan",
    .m_doc = "The bulk matcher's scan, word checks and dictionary readings in C: see brandcrawl/matching/bulk.py.",
    .m_size = 0,
    .m_slots = bulkscan_slots,
};

PyMODINIT_FUNC
PyInit__bulkscan(void)
{
    return PyModuleDef_Init(&bulkscan_module);
}
