/* template: Mustache (spec v1.3 + inheritance) parsed once into a node tree, rendered per request. */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "arena.h"
#include "bounds.h"
#include "buf.h"
#include "error.h"
#include "template.h"

/*
 * The pipeline: tokenize the source (Set Delimiter tags change how the rest is cut), decide
 * which tags stand alone on their line and trim those lines (spec "standalone" rules), then
 * build a tree in which every text node already has its final bytes.  Rendering walks the
 * tree; the only per-line work left is the indentation of standalone partials and blocks.
 */

#define DELIM_MAX     16 /* bytes of a custom delimiter */
#define EXT           ".mustache"
#define DIR_DEPTH_MAX 8             /* subdirectories below the template root */
#define FILE_MAX      (1024 * 1024) /* bytes of one template file */
#define NAME_SHOW     64            /* bytes of a tag name quoted in an error message */
/*
 * Node visits allowed for one rendering.  Output is bounded by UM_TEMPLATE_OUT_MAX, but a
 * template can loop without output (nested sections over lists, a partial including itself
 * twice); a million visits is a hundred times a large page and costs well under a second.
 */
#define STEPS_MAX (1UL * UM_TEMPLATE_OUT_MAX)

enum ttype {
	T_TEXT,     /* literal text */
	T_VAR,      /* {{name}} {{{name}}} {{&name}} */
	T_SECTION,  /* {{#name}} */
	T_INVERTED, /* {{^name}} */
	T_CLOSE,    /* {{/name}} */
	T_PARTIAL,  /* {{>name}} */
	T_PARENT,   /* {{<name}} */
	T_BLOCK,    /* {{$name}} */
	T_COMMENT,  /* {{! ... }} */
	T_DELIM     /* {{=<% %>=}} */
};

struct token {
	enum ttype  type;
	int         raw;   /* T_VAR without HTML escaping */
	int         line;  /* of the first byte */
	size_t      start; /* text bytes, or the whole tag */
	size_t      end;
	size_t      ls;   /* where the tag's line starts */
	const char *name; /* trimmed tag content, in the source */
	size_t      namelen;
	int         standalone; /* the standalone pass trimmed this tag's line */
	int         linestart;  /* ... and what preceded it on the line was indentation */
	enum ttype  opener;     /* T_CLOSE: the type of the tag it closes */
};

enum ntype {
	N_TEXT,     /* literal text */
	N_VAR,      /* interpolation */
	N_SECTION,  /* {{#name}}...{{/name}} */
	N_INVERTED, /* {{^name}}...{{/name}} */
	N_PARTIAL,  /* {{>name}} */
	N_PARENT,   /* {{<name}}...{{/name}}: the kids are the block arguments */
	N_BLOCK     /* {{$name}}...{{/name}}: the kids are the default content */
};

#define NF_RAW        0x01 /* N_VAR: no HTML escaping */
#define NF_STANDALONE 0x02 /* partial, parent, block: re-indent what it expands to */
#define NF_LINE       0x04 /* its indent field is the indentation of a source line */
#define NF_BOL        0x08 /* N_TEXT: starts at the beginning of a source line */

struct node {
	enum ntype         type;
	unsigned int       flags;
	const char        *str; /* N_TEXT bytes, else the tag name */
	size_t             len;
	char             **segs; /* the name split at dots; none for "." */
	size_t             nsegs;
	const char        *indent; /* prepended to each line of an expansion */
	size_t             indentlen;
	struct node       *kids;
	size_t             nkids;
	const struct tmpl *target; /* partial or parent, linked once in a set */
	int                line;
};

struct tmpl {
	char        *name;
	size_t       namelen;
	struct node *kids;
	size_t       nkids;
};

/* A set owns one arena holding every source, name and node; freed in one call. */
struct tmpl_set {
	struct arena *arena;
	struct tmpl  *tmpls; /* malloc'd, sorted by name for lookups */
	size_t        n;
	size_t        cap;
};

struct parser {
	struct arena *arena;
	const char   *src; /* outlives the tree: text nodes point into it */
	size_t        len;
	const char   *what; /* file or template name for messages */
	char         *err;
	size_t        errsz;
	struct token *toks;
	size_t        ntoks;
	size_t        captoks;
};

struct nvec {
	struct node *v;
	size_t       n;
	size_t       cap;
};

/* Partials of tmpl_render_string, parsed on first use within one rendering. */
struct cached {
	const char    *name;
	size_t         len;
	struct tmpl   *t; /* NULL: no such partial */
	struct cached *next;
};

/* The indentation of nested standalone expansions, outermost last; lives on the C stack. */
struct indent {
	const char          *s;
	size_t               len;
	const struct indent *up;
};

/* The block arguments of the parents being expanded, innermost first. */
struct frame {
	const struct node  *parent;
	const struct frame *up;
};

struct render {
	struct buf            *out;
	size_t                 base; /* out->len when rendering began */
	const struct tmpl_set *set;
	const json_t          *partials;
	struct cached         *cache;
	const json_t          *ctx[UM_TEMPLATE_DEPTH_MAX + 2];
	size_t                 nctx;
	int                    depth;
	unsigned long          steps;
	const struct indent   *indent;
	int                    bol; /* at the start of a template line */
	enum um_err            rc;
	char                  *err;
	size_t                 errsz;
};

static int render_nodes(struct render *, const struct node *, size_t, const struct frame *);

static void seterr(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static int perr(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes "what:line: message" and returns -1 so callers can `return perr(...)`. */
static int
perr(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	char    msg[256];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	seterr(p->err, p->errsz, "%s:%d: %s", p->what, line, msg);
	return -1;
}

static int
shown(size_t len)
{
	return (int)(len > NAME_SHOW ? NAME_SHOW : len);
}

static int
isblank_c(char c)
{
	return c == ' ' || c == '\t';
}

static int
isspace_c(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int
sameword(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* --- tokenizer ------------------------------------------------------------------------ */

static struct token *
tok_push(struct parser *p)
{
	struct token *nt;
	size_t        ncap;

	if (p->ntoks == p->captoks) {
		ncap = p->captoks ? p->captoks * 2 : 64;
		if ((nt = reallocarray(p->toks, ncap, sizeof(*nt))) == NULL) {
			fputs("usermgr: out of memory\n", stderr);
			abort();
		}
		p->toks = nt;
		p->captoks = ncap;
	}
	nt = &p->toks[p->ntoks++];
	memset(nt, 0, sizeof(*nt));
	return nt;
}

/* Advances *line and *ls over the newlines in src[from, to). */
static void
count_lines(const char *src, size_t from, size_t to, int *line, size_t *ls)
{
	const char *q;

	while (from < to && (q = memchr(src + from, '\n', to - from)) != NULL) {
		(*line)++;
		from = (size_t)(q - src) + 1;
		*ls = from;
	}
}

static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && isspace_c(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace_c((*s)[*n - 1]))
		(*n)--;
}

/* Parses the inside of {{=open close=}} into new delimiters. */
static int
set_delims(struct parser *p, int line, const char *s, size_t n, char *otag, size_t *olen,
    char *ctag, size_t *clen)
{
	size_t i, j, a;

	if (n == 0 || s[n - 1] != '=')
		return perr(p, line, "set delimiter tag must end with '='");
	n--;
	trim(&s, &n);
	for (a = 0; a < n && !isspace_c(s[a]); a++)
		continue;
	for (i = a; i < n && isspace_c(s[i]); i++)
		continue;
	if (a == 0 || i == a || i == n || a > DELIM_MAX || n - i > DELIM_MAX ||
	    memchr(s, '=', n) != NULL)
		return perr(p, line, "bad delimiters \"%.*s\": want two words without '='",
		    shown(n), s);
	for (j = i; j < n; j++)
		if (isspace_c(s[j]))
			return perr(p, line, "bad delimiters \"%.*s\": want two words",
			    shown(n), s);
	memcpy(otag, s, a);
	*olen = a;
	memcpy(ctag, s + i, n - i);
	*clen = n - i;
	return 0;
}

/* The delimiters in force: {{ }} until a Set Delimiter tag changes them. */
struct delims {
	char   open[DELIM_MAX];
	size_t olen;
	char   close[DELIM_MAX + 1];
	size_t clen;
};

static void
text_token(struct parser *p, size_t from, size_t to, int *line, size_t *ls)
{
	struct token *t = tok_push(p);

	t->type = T_TEXT;
	t->start = from;
	t->end = to;
	t->line = *line;
	count_lines(p->src, from, to, line, ls);
}

/* The type of a tag from the sigil after its opening delimiter, which *s and *n then skip. */
static void
tag_type(struct token *t, const char **s, size_t *n)
{
	while (*n > 0 && isspace_c(**s)) {
		(*s)++;
		(*n)--;
	}
	switch (*n > 0 ? **s : '\0') {
	case '!': t->type = T_COMMENT; break;
	case '#': t->type = T_SECTION; break;
	case '^': t->type = T_INVERTED; break;
	case '/': t->type = T_CLOSE; break;
	case '>': t->type = T_PARTIAL; break;
	case '<': t->type = T_PARENT; break;
	case '$': t->type = T_BLOCK; break;
	case '&':
		t->type = T_VAR;
		t->raw = 1;
		break;
	case '=': t->type = T_DELIM; break;
	default: t->type = T_VAR; break;
	}
	if (t->type != T_VAR || t->raw) {
		(*s)++;
		(*n)--;
	}
}

/* The tag opening at tstart: its extent, type and trimmed name.  NULL when it is not closed. */
static struct token *
tag_token(struct parser *p, const struct delims *d, size_t tstart, int line, size_t ls)
{
	char          closer[DELIM_MAX + 1];
	size_t        q = tstart + d->olen, closelen = 0, cs, ce, nl;
	const char   *hit, *s;
	struct token *t;
	int           raw;

	/* Triple mustache: {{{name}}} closes with '}' before the closing delimiter. */
	raw = q < p->len && p->src[q] == '{';
	if (raw)
		closer[closelen++] = '}';
	memcpy(closer + closelen, d->close, d->clen);
	closelen += d->clen;
	cs = raw ? q + 1 : q;
	hit = memmem(p->src + cs, p->len - cs, closer, closelen);
	if (hit == NULL) {
		perr(p, line, "unclosed tag: no \"%.*s\" after \"%.*s\"", (int)closelen, closer,
		    (int)d->olen, d->open);
		return NULL;
	}
	ce = (size_t)(hit - p->src);
	t = tok_push(p);
	t->start = tstart;
	t->end = ce + closelen;
	t->ls = ls;
	t->line = line;
	s = p->src + cs;
	nl = ce - cs;
	if (raw) {
		t->type = T_VAR;
		t->raw = 1;
	} else
		tag_type(t, &s, &nl);
	trim(&s, &nl);
	t->name = s;
	t->namelen = nl;
	return t;
}

static int
tokenize(struct parser *p)
{
	struct delims d = { "{{", 2, "}}", 2 };
	size_t        pos = 0, ls = 0, tstart;
	const char   *hit;
	struct token *t;
	int           line = 1;

	while (pos < p->len) {
		hit = memmem(p->src + pos, p->len - pos, d.open, d.olen);
		tstart = hit != NULL ? (size_t)(hit - p->src) : p->len;
		if (tstart > pos)
			text_token(p, pos, tstart, &line, &ls);
		if (hit == NULL)
			break;
		if ((t = tag_token(p, &d, tstart, line, ls)) == NULL)
			return -1;
		count_lines(p->src, tstart, t->end, &line, &ls);
		if (t->type == T_DELIM) {
			if (set_delims(p, t->line, t->name, t->namelen, d.open, &d.olen,
			        d.close, &d.clen) == -1)
				return -1;
		} else if (t->type != T_COMMENT && t->namelen == 0)
			return perr(p, t->line, "empty tag name");
		pos = t->end;
	}
	return 0;
}

/* --- standalone lines ----------------------------------------------------------------- */

static int
can_standalone(enum ttype type)
{
	return type != T_TEXT && type != T_VAR;
}

/* Only blanks between the start of the tag's line and the tag. */
static int
blank_before(const struct parser *p, const struct token *t)
{
	size_t i;

	for (i = t->start; i > t->ls; i--)
		if (!isblank_c(p->src[i - 1]))
			return 0;
	return 1;
}

/*
 * Only blanks from the tag to the end of its line (or of the template).  Sets *eol to where
 * the line break begins and *next to the first byte of the next line.
 */
static int
blank_after(const struct parser *p, const struct token *t, size_t *eol, size_t *next)
{
	size_t i = t->end;

	while (i < p->len && isblank_c(p->src[i]))
		i++;
	*eol = i;
	if (i == p->len) {
		*next = i;
		return 1;
	}
	if (p->src[i] == '\r' && i + 1 < p->len && p->src[i + 1] == '\n') {
		*next = i + 2;
		return 1;
	}
	if (p->src[i] == '\n') {
		*next = i + 1;
		return 1;
	}
	return 0;
}

/* Drops the indentation before token i from the text token preceding it. */
static void
cut_before(struct parser *p, size_t i)
{
	struct token *t = &p->toks[i];

	if (i > 0 && p->toks[i - 1].type == T_TEXT && p->toks[i - 1].end == t->start)
		p->toks[i - 1].end = t->ls > p->toks[i - 1].start ? t->ls :
		                                                    p->toks[i - 1].start;
}

/* Drops the rest of token i's line from the text token following it. */
static void
cut_after(struct parser *p, size_t i, size_t to)
{
	struct token *t = &p->toks[i];

	if (i + 1 < p->ntoks && p->toks[i + 1].type == T_TEXT && p->toks[i + 1].start == t->end)
		p->toks[i + 1].start = to < p->toks[i + 1].end ? to : p->toks[i + 1].end;
}

static void
mark(struct token *t)
{
	t->standalone = 1;
	t->linestart = 1;
}

/*
 * Mustache spec: a section, inverted, close, comment, partial, parent, block or delimiter
 * tag alone on its line (blanks aside) removes the whole line from the output.  The
 * inheritance spec extends that to adjacent pairs on one line: {{<p}}{{/p}},
 * {{$b}}{{/b}} (whose line break stays, so an empty block leaves an empty line),
 * {{<p}}{{$b}} and {{/b}}{{/p}}.
 */
static void
standalone(struct parser *p)
{
	struct token *t, *u;
	size_t        i, eol, next, *stk, nstk = 0;

	/* Pair each close with its opener, for the {{/b}}{{/p}} rule; build() checks names. */
	if ((stk = calloc(p->ntoks + 1, sizeof(*stk))) == NULL) {
		fputs("usermgr: out of memory\n", stderr);
		abort();
	}
	for (i = 0; i < p->ntoks; i++) {
		t = &p->toks[i];
		if (t->type == T_SECTION || t->type == T_INVERTED || t->type == T_PARENT ||
		    t->type == T_BLOCK)
			stk[nstk++] = i;
		else if (t->type == T_CLOSE) {
			t->opener = nstk > 0 ? p->toks[stk[--nstk]].type : T_CLOSE;
		}
	}
	free(stk);

	for (i = 0; i < p->ntoks; i++) {
		t = &p->toks[i];
		if (!can_standalone(t->type) || t->standalone)
			continue;
		u = i + 1 < p->ntoks ? &p->toks[i + 1] : NULL;
		if (u != NULL && u->start == t->end && !u->standalone && blank_before(p, t) &&
		    blank_after(p, u, &eol, &next)) {
			if (t->type == T_PARENT && u->type == T_CLOSE) {
				cut_before(p, i);
				cut_after(p, i + 1, next);
				mark(t);
				u->standalone = 1;
				continue;
			}
			if (t->type == T_BLOCK && u->type == T_CLOSE) {
				cut_before(p, i);
				cut_after(p, i + 1, eol);
				mark(t);
				u->standalone = 1;
				continue;
			}
			if (t->type == T_PARENT && u->type == T_BLOCK) {
				cut_before(p, i);
				cut_after(p, i + 1, next);
				mark(t);
				u->standalone = 1;
				continue;
			}
			if (t->type == T_CLOSE && t->opener == T_BLOCK && u->type == T_CLOSE &&
			    u->opener == T_PARENT) {
				cut_before(p, i);
				cut_after(p, i + 1, next);
				mark(t);
				u->standalone = 1;
				continue;
			}
		}
		if (blank_before(p, t) && blank_after(p, t, &eol, &next)) {
			cut_before(p, i);
			cut_after(p, i, next);
			mark(t);
		}
	}
}

/* --- tree ----------------------------------------------------------------------------- */

static struct node *
nvec_push(struct nvec *v)
{
	struct node *nv;
	size_t       ncap;

	if (v->n == v->cap) {
		ncap = v->cap ? v->cap * 2 : 8;
		if ((nv = reallocarray(v->v, ncap, sizeof(*nv))) == NULL) {
			fputs("usermgr: out of memory\n", stderr);
			abort();
		}
		v->v = nv;
		v->cap = ncap;
	}
	nv = &v->v[v->n++];
	memset(nv, 0, sizeof(*nv));
	return nv;
}

static void
split_name(struct arena *a, struct node *n)
{
	const char *s = n->str, *dot;
	size_t      left = n->len, i, k;

	if (n->len == 1 && n->str[0] == '.')
		return;
	for (n->nsegs = 1, i = 0; i < n->len; i++)
		if (n->str[i] == '.')
			n->nsegs++;
	n->segs = arena_calloc(a, n->nsegs, sizeof(*n->segs));
	for (i = 0; i < n->nsegs; i++) {
		dot = memchr(s, '.', left);
		k = dot != NULL ? (size_t)(dot - s) : left;
		n->segs[i] = arena_strndup(a, s, k);
		s += k + (dot != NULL);
		left -= k + (dot != NULL);
	}
}

/* Narrows *pfx to the part it shares with s[0, n). */
static void
common(const char **pfx, size_t *pfxlen, int *have, const char *s, size_t n)
{
	size_t i;

	if (!*have) {
		*pfx = s;
		*pfxlen = n;
		*have = 1;
		return;
	}
	for (i = 0; i < *pfxlen && i < n && (*pfx)[i] == s[i]; i++)
		continue;
	*pfxlen = i;
}

/* The indentation shared by every non-blank line of a block's content. */
static void
margin(const struct node *kids, size_t n, const char **pfx, size_t *pfxlen, int *have)
{
	const struct node *k;
	size_t             i, j, w;

	for (i = 0; i < n; i++) {
		k = &kids[i];
		switch (k->type) {
		case N_TEXT:
			for (j = 0; j < k->len; j++) {
				if (j == 0 ? !(k->flags & NF_BOL) : k->str[j - 1] != '\n')
					continue;
				for (w = 0; j + w < k->len && isblank_c(k->str[j + w]); w++)
					continue;
				if (j + w < k->len && k->str[j + w] != '\n' &&
				    k->str[j + w] != '\r')
					common(pfx, pfxlen, have, k->str + j, w);
			}
			break;
		case N_BLOCK:
			if (k->flags & NF_STANDALONE) {
				if (k->flags & NF_LINE)
					common(pfx, pfxlen, have, k->indent, k->indentlen);
				break;
			}
			margin(k->kids, k->nkids, pfx, pfxlen, have);
			break;
		case N_PARTIAL:
		case N_PARENT:
			if (k->flags & NF_LINE)
				common(pfx, pfxlen, have, k->indent, k->indentlen);
			if (k->type == N_PARENT)
				margin(k->kids, k->nkids, pfx, pfxlen, have);
			break;
		case N_SECTION:
		case N_INVERTED: margin(k->kids, k->nkids, pfx, pfxlen, have); break;
		case N_VAR: break;
		}
	}
}

static size_t
prefix_len(const char *s, size_t n, const char *pfx, size_t pfxlen)
{
	size_t i;

	for (i = 0; i < n && i < pfxlen && s[i] == pfx[i]; i++)
		continue;
	return i;
}

/*
 * Inheritance spec: "block indentation is removed at the site of definition and added at
 * the site of expansion".  Removes pfx from the start of every line of the content.
 */
static void
dedent(struct arena *a, struct node *kids, size_t n, const char *pfx, size_t pfxlen)
{
	struct node *k;
	char        *d;
	size_t       i, j, o, cut;

	for (i = 0; i < n; i++) {
		k = &kids[i];
		switch (k->type) {
		case N_TEXT:
			d = arena_alloc(a, k->len + 1);
			for (o = j = 0; j < k->len;) {
				if (j == 0 ? (k->flags & NF_BOL) : k->str[j - 1] == '\n') {
					cut = prefix_len(k->str + j, k->len - j, pfx, pfxlen);
					j += cut;
					if (j >= k->len)
						break;
				}
				d[o++] = k->str[j++];
			}
			d[o] = '\0';
			k->str = d;
			k->len = o;
			break;
		case N_BLOCK:
		case N_PARTIAL:
		case N_PARENT:
			if (k->flags & NF_LINE) {
				cut = prefix_len(k->indent, k->indentlen, pfx, pfxlen);
				k->indent += cut;
				k->indentlen -= cut;
			}
			if (k->type == N_PARENT ||
			    (k->type == N_BLOCK && !(k->flags & NF_STANDALONE)))
				dedent(a, k->kids, k->nkids, pfx, pfxlen);
			break;
		case N_SECTION:
		case N_INVERTED: dedent(a, k->kids, k->nkids, pfx, pfxlen); break;
		case N_VAR: break;
		}
	}
}

/*
 * A standalone block's content loses its common indentation; that indentation, or failing
 * it the one before the tag, is put back in front of every line wherever the block expands.
 */
static void
block_indent(struct parser *p, struct node *b)
{
	const char *pfx = NULL;
	size_t      pfxlen = 0;
	int         have = 0;

	margin(b->kids, b->nkids, &pfx, &pfxlen, &have);
	if (have && pfxlen > 0) {
		dedent(p->arena, b->kids, b->nkids, pfx, pfxlen);
		b->indent = pfx;
		b->indentlen = pfxlen;
		b->flags |= NF_LINE;
	}
}

/* The node each kind of tag becomes; comments, delimiters and closers become none. */
static const enum ntype node_type[] = {
	[T_VAR] = N_VAR,
	[T_SECTION] = N_SECTION,
	[T_INVERTED] = N_INVERTED,
	[T_PARTIAL] = N_PARTIAL,
	[T_PARENT] = N_PARENT,
	[T_BLOCK] = N_BLOCK,
};

static int build(struct parser *, size_t *, const struct token *, int, struct node **,
    size_t *);

/* A {{/name}} must close the innermost open section, by the same name. */
static int
check_close(struct parser *p, const struct token *t, const struct token *open)
{
	if (open == NULL)
		return perr(p, t->line, "{{/%.*s}} closes nothing", shown(t->namelen), t->name);
	if (!sameword(t->name, t->namelen, open->name, open->namelen))
		return perr(p, t->line, "{{/%.*s}} does not close \"%.*s\" opened on line %d",
		    shown(t->namelen), t->name, shown(open->namelen), open->name, open->line);
	return 0;
}

static void
text_node(struct parser *p, struct nvec *v, const struct token *t)
{
	struct node *n;

	if (t->start == t->end)
		return;
	n = nvec_push(v);
	n->type = N_TEXT;
	n->str = p->src + t->start;
	n->len = t->end - t->start;
	if (t->start == 0 || p->src[t->start - 1] == '\n')
		n->flags |= NF_BOL;
}

/* Once its content is built: what each kind of section does with it. */
static void
close_section(struct parser *p, struct node *n)
{
	size_t j, k;

	if (n->type == N_SECTION || n->type == N_INVERTED)
		split_name(p->arena, n);
	else if (n->type == N_PARENT) {
		/* Inheritance spec: only blocks count inside a parent tag. */
		for (j = k = 0; j < n->nkids; j++)
			if (n->kids[j].type == N_BLOCK)
				n->kids[k++] = n->kids[j];
		n->nkids = k;
	} else if (n->flags & NF_STANDALONE)
		block_indent(p, n);
}

/* The node of tag t; a section's content up to its {{/name}} is built into its kids. */
static int
tag_node(struct parser *p, struct nvec *v, const struct token *t, size_t *ip, int depth)
{
	struct node *n = nvec_push(v), *kids;
	size_t       nkids;

	n->type = node_type[t->type];
	n->str = t->name;
	n->len = t->namelen;
	n->line = t->line;
	if (t->standalone) {
		n->flags |= NF_STANDALONE;
		n->indent = p->src + t->ls;
		n->indentlen = t->start - t->ls;
		if (t->linestart)
			n->flags |= NF_LINE;
		else
			n->indentlen = 0;
	}
	if (n->type == N_VAR) {
		if (t->raw)
			n->flags |= NF_RAW;
		split_name(p->arena, n);
		return 0;
	}
	if (n->type == N_PARTIAL)
		return 0;
	if (depth >= UM_TEMPLATE_DEPTH_MAX)
		return perr(p, t->line, "sections nested deeper than %d",
		    UM_TEMPLATE_DEPTH_MAX);
	if (build(p, ip, t, depth + 1, &kids, &nkids) == -1)
		return -1;
	/* build() may have grown v: find the node again by index. */
	n = &v->v[v->n - 1];
	n->kids = kids;
	n->nkids = nkids;
	close_section(p, n);
	return 0;
}

/* The nodes from token *ip up to the {{/name}} that closes open (the end when open is NULL). */
static int
build(struct parser *p, size_t *ip, const struct token *open, int depth, struct node **kidsp,
    size_t *nkidsp)
{
	struct nvec         v = { NULL, 0, 0 };
	const struct token *t;
	int                 rc = -1;

	while (*ip < p->ntoks) {
		t = &p->toks[(*ip)++];
		if (t->type == T_CLOSE) {
			if (check_close(p, t, open) == -1)
				goto out;
			goto done;
		}
		if (t->type == T_TEXT)
			text_node(p, &v, t);
		else if (t->type != T_COMMENT && t->type != T_DELIM &&
		    tag_node(p, &v, t, ip, depth) == -1)
			goto out;
	}
	if (open != NULL) {
		perr(p, open->line, "section \"%.*s\" is never closed", shown(open->namelen),
		    open->name);
		goto out;
	}
done:
	*kidsp = NULL;
	*nkidsp = v.n;
	if (v.n > 0)
		*kidsp = arena_memdup(p->arena, v.v, v.n * sizeof(*v.v));
	rc = 0;
out:
	free(v.v);
	return rc;
}

/* Parses src (which must outlive the result) into a template allocated from a. */
static struct tmpl *
parse(struct arena *a, const char *src, size_t len, const char *what, char *err, size_t errsz)
{
	struct parser p;
	struct tmpl  *t, *rc = NULL;
	size_t        i = 0;

	memset(&p, 0, sizeof(p));
	p.arena = a;
	p.src = src;
	p.len = len;
	p.what = what;
	p.err = err;
	p.errsz = errsz;
	if (tokenize(&p) == -1)
		goto out;
	standalone(&p);
	t = arena_calloc(a, 1, sizeof(*t));
	if (build(&p, &i, NULL, 0, &t->kids, &t->nkids) == -1)
		goto out;
	rc = t;
out:
	free(p.toks);
	return rc;
}

/* --- rendering ------------------------------------------------------------------------ */

static int
fail(struct render *r, enum um_err rc, const char *why)
{
	r->rc = rc;
	seterr(r->err, r->errsz, "%s", why);
	return -1;
}

static int
put(struct render *r, const char *s, size_t n)
{
	if (n > UM_TEMPLATE_OUT_MAX - (r->out->len - r->base))
		return fail(r, UM_EINTERNAL, "template output too large");
	buf_append(r->out, s, n);
	return 0;
}

static int
put_indent(struct render *r, const struct indent *in)
{
	if (in == NULL)
		return 0;
	if (put_indent(r, in->up) == -1)
		return -1;
	return put(r, in->s, in->len);
}

/* Template text: indentation goes in front of each non-empty line. */
static int
emit_text(struct render *r, const char *s, size_t n)
{
	const char *nl;
	size_t      k;

	/* The common case, outside any standalone partial: one copy. */
	if (r->indent == NULL && n > 0) {
		r->bol = s[n - 1] == '\n';
		return put(r, s, n);
	}
	while (n > 0) {
		if (r->bol && s[0] != '\n' && s[0] != '\r' && put_indent(r, r->indent) == -1)
			return -1;
		nl = memchr(s, '\n', n);
		k = nl != NULL ? (size_t)(nl - s) + 1 : n;
		if (put(r, s, k) == -1)
			return -1;
		r->bol = nl != NULL;
		s += k;
		n -= k;
	}
	return 0;
}

/* A value: line breaks inside it are data, not template lines, so they get no indent. */
static int
emit_value(struct render *r, const char *s, size_t n, int raw)
{
	if (n == 0)
		return 0;
	if (r->bol && put_indent(r, r->indent) == -1)
		return -1;
	r->bol = 0;
	if (raw)
		return put(r, s, n);
	if (n > UM_TEMPLATE_OUT_MAX - (r->out->len - r->base))
		return fail(r, UM_EINTERNAL, "template output too large");
	buf_append_html(r->out, s, n);
	if (r->out->len - r->base > UM_TEMPLATE_OUT_MAX)
		return fail(r, UM_EINTERNAL, "template output too large");
	return 0;
}

/* The shortest decimal that reads back as the same double: 1.5 is "1.5", 2.0 is "2". */
static void
fmt_real(double d, char *s, size_t sz)
{
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		(void)snprintf(s, sz, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
}

static int
emit_json(struct render *r, const json_t *v, int raw)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		return emit_value(r, json_string_value(v), json_string_length(v), raw);
	case JSON_INTEGER:
		(void)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return emit_value(r, num, strlen(num), 1);
	case JSON_REAL:
		fmt_real(json_real_value(v), num, sizeof(num));
		return emit_value(r, num, strlen(num), 1);
	case JSON_TRUE: return emit_value(r, "true", 4, 1);
	case JSON_FALSE: return emit_value(r, "false", 5, 1);
	default:
		/* null, objects and lists have no text of their own. */
		return 0;
	}
}

/*
 * Mustache spec: the first part of a dotted name is looked up through the context stack,
 * innermost first; the rest only inside what it found.  "." is the innermost context.
 */
static const json_t *
lookup(const struct render *r, const struct node *n)
{
	const json_t *v = NULL;
	size_t        i;

	if (n->nsegs == 0)
		return r->ctx[r->nctx - 1];
	for (i = r->nctx; i > 0; i--)
		if (json_is_object(r->ctx[i - 1]) &&
		    (v = json_object_get(r->ctx[i - 1], n->segs[0])) != NULL)
			break;
	for (i = 1; v != NULL && i < n->nsegs; i++)
		v = json_is_object(v) ? json_object_get(v, n->segs[i]) : NULL;
	return v;
}

/* Mustache spec: false, null, a missing key and the empty list are falsey; all else is not. */
static int
truthy(const json_t *v)
{
	if (v == NULL || json_is_null(v) || json_is_false(v))
		return 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return 1;
}

static int
enter(struct render *r)
{
	if (r->depth >= UM_TEMPLATE_DEPTH_MAX)
		return fail(r, UM_EINTERNAL, "templates nested too deeply");
	r->depth++;
	return 0;
}

static const struct tmpl *
find(const struct tmpl_set *set, const char *name, size_t len)
{
	size_t lo = 0, hi = set->n, mid, n;
	int    c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		n = set->tmpls[mid].namelen;
		c = memcmp(name, set->tmpls[mid].name, len < n ? len : n);
		if (c == 0)
			c = len < n ? -1 : len > n ? 1 : 0;
		if (c == 0)
			return &set->tmpls[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The template a partial or parent tag names; *t is NULL when there is none. */
static int
resolve(struct render *r, const struct node *n, const struct tmpl **t)
{
	struct cached *c;
	const json_t  *src;
	char          *key, *what;

	*t = NULL;
	if (r->set != NULL) {
		*t = n->target;
		return 0;
	}
	for (c = r->cache; c != NULL; c = c->next)
		if (sameword(c->name, c->len, n->str, n->len)) {
			*t = c->t;
			return 0;
		}
	c = arena_calloc(r->out->arena, 1, sizeof(*c));
	c->name = n->str;
	c->len = n->len;
	key = arena_strndup(r->out->arena, n->str, n->len);
	if (r->partials != NULL && (src = json_object_get(r->partials, key)) != NULL &&
	    json_is_string(src)) {
		what = arena_printf(r->out->arena, "partial \"%.*s\"", shown(n->len), n->str);
		c->t = parse(r->out->arena, json_string_value(src), json_string_length(src),
		    what, r->err, r->errsz);
		if (c->t == NULL) {
			r->rc = UM_EINVAL;
			return -1;
		}
	}
	c->next = r->cache;
	r->cache = c;
	*t = c->t;
	return 0;
}

/* A partial, a parent or a block's content, indented when its tag stood alone. */
static int
expand(struct render *r, const struct node *n, const struct node *kids, size_t nkids,
    const struct frame *fr)
{
	struct indent        in;
	const struct indent *saved = r->indent;
	int                  rc;

	if (enter(r) == -1)
		return -1;
	if (n->flags & NF_STANDALONE)
		r->bol = 1;
	/* An empty indent is left off the chain so plain text keeps its one-copy path. */
	if ((n->flags & NF_STANDALONE) && n->indentlen > 0) {
		in.s = n->indent;
		in.len = n->indentlen;
		in.up = r->indent;
		r->indent = &in;
	}
	rc = render_nodes(r, kids, nkids, fr);
	r->indent = saved;
	r->depth--;
	return rc;
}

/*
 * Inheritance spec: the argument for a block comes from the outermost parent tag that
 * gives one (the child overrides its parent, which overrides the grandparent).
 */
static const struct node *
argument(const struct node *b, const struct frame *fr)
{
	const struct node *found = NULL;
	size_t             i;

	for (; fr != NULL; fr = fr->up)
		for (i = 0; i < fr->parent->nkids; i++)
			if (sameword(fr->parent->kids[i].str, fr->parent->kids[i].len, b->str,
			        b->len)) {
				found = &fr->parent->kids[i];
				break;
			}
	return found;
}

static int
section(struct render *r, const struct node *n, const json_t *v, const struct frame *fr)
{
	size_t i;
	int    rc = -1;

	if (enter(r) == -1)
		return -1;
	if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++) {
			r->ctx[r->nctx++] = json_array_get(v, i);
			rc = render_nodes(r, n->kids, n->nkids, fr);
			r->nctx--;
			if (rc == -1)
				goto out;
		}
	} else {
		r->ctx[r->nctx++] = v;
		rc = render_nodes(r, n->kids, n->nkids, fr);
		r->nctx--;
		if (rc == -1)
			goto out;
	}
	rc = 0;
out:
	r->depth--;
	return rc;
}

static int
render_nodes(struct render *r, const struct node *kids, size_t nkids, const struct frame *fr)
{
	const struct node *n, *arg;
	const struct tmpl *t;
	const json_t      *v;
	struct frame       sub;
	size_t             i;

	for (i = 0; i < nkids; i++) {
		n = &kids[i];
		if (++r->steps > STEPS_MAX)
			return fail(r, UM_EINTERNAL, "template rendering takes too long");
		switch (n->type) {
		case N_TEXT:
			if (emit_text(r, n->str, n->len) == -1)
				return -1;
			break;
		case N_VAR:
			if ((v = lookup(r, n)) != NULL &&
			    emit_json(r, v, n->flags & NF_RAW) == -1)
				return -1;
			break;
		case N_SECTION:
			if (truthy(v = lookup(r, n)) && section(r, n, v, fr) == -1)
				return -1;
			break;
		case N_INVERTED:
			if (!truthy(lookup(r, n))) {
				if (enter(r) == -1)
					return -1;
				if (render_nodes(r, n->kids, n->nkids, fr) == -1)
					return -1;
				r->depth--;
			}
			break;
		case N_PARTIAL:
			if (resolve(r, n, &t) == -1)
				return -1;
			if (t != NULL && expand(r, n, t->kids, t->nkids, fr) == -1)
				return -1;
			break;
		case N_PARENT:
			if (resolve(r, n, &t) == -1)
				return -1;
			sub.parent = n;
			sub.up = fr;
			if (t != NULL && expand(r, n, t->kids, t->nkids, &sub) == -1)
				return -1;
			break;
		case N_BLOCK:
			arg = argument(n, fr);
			if (arg == NULL)
				arg = n;
			if (expand(r, n, arg->kids, arg->nkids, fr) == -1)
				return -1;
			break;
		}
	}
	return 0;
}

static enum um_err
run(struct render *r, const struct tmpl *t, const json_t *data)
{
	r->base = r->out->len;
	r->ctx[0] = data;
	r->nctx = 1;
	r->bol = 1;
	r->rc = UM_EINTERNAL;
	if (render_nodes(r, t->kids, t->nkids, NULL) == -1) {
		buf_truncate(r->out, r->base);
		return r->rc;
	}
	return UM_OK;
}

enum um_err
tmpl_render_string(const char *src, size_t len, const json_t *partials, const json_t *data,
    struct buf *out, char *err, size_t errsz)
{
	struct render r;
	struct tmpl  *t;

	if ((t = parse(out->arena, src, len, "template", err, errsz)) == NULL)
		return UM_EINVAL;
	memset(&r, 0, sizeof(r));
	r.out = out;
	r.partials = json_is_object(partials) ? partials : NULL;
	r.err = err;
	r.errsz = errsz;
	return run(&r, t, data);
}

enum um_err
tmpl_render(const struct tmpl_set *set, const char *name, const json_t *data, struct buf *out)
{
	struct render      r;
	const struct tmpl *t;

	if (set == NULL || (t = find(set, name, strlen(name))) == NULL)
		return UM_ENOTFOUND;
	memset(&r, 0, sizeof(r));
	r.out = out;
	r.set = set;
	return run(&r, t, data);
}

/* --- sets ----------------------------------------------------------------------------- */

static int
tmplcmp(const void *a, const void *b)
{
	return strcmp(((const struct tmpl *)a)->name, ((const struct tmpl *)b)->name);
}

/* Points every partial and parent tag at its template once, so rendering never searches. */
static void
link_nodes(const struct tmpl_set *set, struct node *kids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (kids[i].type == N_PARTIAL || kids[i].type == N_PARENT)
			kids[i].target = find(set, kids[i].str, kids[i].len);
		link_nodes(set, kids[i].kids, kids[i].nkids);
	}
}

/* Reads and parses one file; src and nodes live in the set's arena. */
static int
load_file(struct tmpl_set *set, const char *path, const char *rel, size_t sz, char *err,
    size_t errsz)
{
	FILE        *f = NULL;
	char        *src;
	struct tmpl *t, *nt;
	size_t       ncap, got;
	int          rc = -1;

	if (sz > FILE_MAX) {
		seterr(err, errsz, "%s: larger than %d bytes", path, FILE_MAX);
		goto out;
	}
	if ((f = fopen(path, "r")) == NULL) {
		seterr(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	src = arena_alloc(set->arena, sz + 1);
	got = fread(src, 1, sz, f);
	if (ferror(f) || got != sz) {
		seterr(err, errsz, "%s: short read", path);
		goto out;
	}
	src[sz] = '\0';
	if ((t = parse(set->arena, src, sz, path, err, errsz)) == NULL)
		goto out;
	if (set->n == set->cap) {
		ncap = set->cap ? set->cap * 2 : 16;
		if ((nt = reallocarray(set->tmpls, ncap, sizeof(*nt))) == NULL) {
			fputs("usermgr: out of memory\n", stderr);
			abort();
		}
		set->tmpls = nt;
		set->cap = ncap;
	}
	t->namelen = strlen(rel) - strlen(EXT);
	t->name = arena_strndup(set->arena, rel, t->namelen);
	set->tmpls[set->n++] = *t;
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	return rc;
}

/* Loads every *.mustache below root/rel; rel is "" or ends with '/'. */
static int
walk(struct tmpl_set *set, const char *root, const char *rel, int depth, char *err,
    size_t errsz)
{
	DIR           *d = NULL;
	struct dirent *e;
	struct stat    st;
	char           dir[4096], path[4096], sub[4096];
	size_t         n;
	int            rc = -1;

	if (depth > DIR_DEPTH_MAX) {
		seterr(err, errsz, "%s/%s: directories nested too deeply", root, rel);
		goto out;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%s", root, rel) >= sizeof(dir)) {
		seterr(err, errsz, "%s/%s: path too long", root, rel);
		goto out;
	}
	if ((d = opendir(dir)) == NULL) {
		seterr(err, errsz, "%s: %s", dir, strerror(errno));
		goto out;
	}
	while ((e = readdir(d)) != NULL) {
		/* Dot files are editor droppings and "." / ".."; never templates. */
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s", dir, e->d_name) >=
		        sizeof(path) ||
		    (size_t)snprintf(sub, sizeof(sub), "%s%s", rel, e->d_name) >=
		        sizeof(sub) - 1) {
			seterr(err, errsz, "%s%s: path too long", dir, e->d_name);
			goto out;
		}
		if (stat(path, &st) == -1) {
			seterr(err, errsz, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (S_ISDIR(st.st_mode)) {
			n = strlen(sub);
			sub[n] = '/';
			sub[n + 1] = '\0';
			if (walk(set, root, sub, depth + 1, err, errsz) == -1)
				goto out;
			continue;
		}
		n = strlen(e->d_name);
		if (!S_ISREG(st.st_mode) || n <= strlen(EXT) ||
		    strcmp(e->d_name + n - strlen(EXT), EXT) != 0)
			continue;
		if (load_file(set, path, sub, (size_t)st.st_size, err, errsz) == -1)
			goto out;
	}
	rc = 0;
out:
	if (d != NULL)
		closedir(d);
	return rc;
}

struct tmpl_set *
tmpl_set_load(const char *dir, char *err, size_t errsz)
{
	struct tmpl_set *set, *rc = NULL;
	size_t           i;

	if ((set = calloc(1, sizeof(*set))) == NULL) {
		fputs("usermgr: out of memory\n", stderr);
		abort();
	}
	set->arena = arena_new();
	if (walk(set, dir, "", 0, err, errsz) == -1)
		goto out;
	if (set->n > 0)
		qsort(set->tmpls, set->n, sizeof(*set->tmpls), tmplcmp);
	for (i = 0; i < set->n; i++)
		link_nodes(set, set->tmpls[i].kids, set->tmpls[i].nkids);
	rc = set;
	set = NULL;
out:
	tmpl_set_free(set);
	return rc;
}

void
tmpl_set_free(struct tmpl_set *set)
{
	if (set == NULL)
		return;
	arena_free(set->arena);
	free(set->tmpls);
	free(set);
}

int
tmpl_set_has(const struct tmpl_set *set, const char *name)
{
	return set != NULL && find(set, name, strlen(name)) != NULL;
}
