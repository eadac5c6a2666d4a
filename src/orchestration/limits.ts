// What one request may make the orchestration engine do. Validation refuses templates over a
// limit up front (a 400 naming the place and the limit), and the engine checks the same values
// when it runs, for what validation could not know (a count that comes from get_attr, a
// parameter given only at create). docs/orchestration.md explains the values.

/** Heat's max_template_size: bytes of one template or environment document. */
export const MAX_TEMPLATE_BYTES = 512 * 1024;

/** Deepest nesting of maps and lists inside one document (they are walked recursively). */
export const MAX_DOCUMENT_DEPTH = 64;

/** Heat's max_nested_stack_depth: template resources and groups inside each other. */
export const MAX_NESTED_DEPTH = 5;

/**
 * Heat's max_resources_per_stack: resources of a stack counting those of every nested stack and
 * group member, the nested stack's own resource included. Heat's default is 1,000, which a
 * TripleO overcloud passes at about twenty nodes (TripleO turns the check off); 5,000 leaves room
 * for a hundred-node overcloud while bounding the rows, events and engine work of one request.
 */
export const MAX_RESOURCES_PER_STACK = 5000;

/**
 * The members one ResourceGroup generates, as JSON (count × the resolved member definition):
 * counts alone do not bound bytes — 100 members of a 3.6 MB definition stored 1.4 GB.
 */
export const MAX_GROUP_TEMPLATE_BYTES = 8 * 1024 * 1024;

/** Members of one ResourceGroup (a group is part of a stack, so no larger than one). */
export const MAX_GROUP_COUNT = MAX_RESOURCES_PER_STACK - 1;

/** Items produced by one `repeat` (permutations multiply quickly). */
export const MAX_REPEAT_ITEMS = 10_000;

/** Heat's limit for OS::Heat::RandomString `length`, also the most its character classes and sequences may ask for. */
export const MAX_RANDOM_STRING_LENGTH = 512;

/** allowed_pattern: longest pattern text. */
export const MAX_PATTERN_LENGTH = 1000;

/**
 * allowed_pattern: largest compiled program (RE2 instructions). Repeats expand: "(a|b){200}" is
 * hundreds of instructions, and both compiling and matching grow with the program.
 */
export const MAX_PATTERN_PROGRAM = 1000;

/**
 * allowed_pattern work one validation (or one stack preparation) may do, in units of about a
 * nanosecond of one core (measured with re2js): compiling costs 10,000 per instruction,
 * matching 20 per character and instruction plus 1,000 per character. 25,000,000 is about
 * 25 ms: some 20,000 characters against a simple pattern, 1,000 against the largest one.
 * The tripleo-heat-templates corpus has no allowed_pattern; a usual one (an address, a name)
 * against a usual value costs well under 1 % of it.
 */
export const MAX_PATTERN_WORK = 25_000_000;

/** str_replace: parameters × template characters one call may scan (tens of milliseconds of searching). */
export const MAX_REPLACE_WORK = 50_000_000;

/** str_replace: longest result; the largest TripleO scripts are a few tens of kilobytes. */
export const MAX_REPLACE_RESULT = 4 * 1024 * 1024;

/**
 * list_join and repeat: the most characters one call may build (as JSON text for repeat's
 * items). `repeat`'s item count alone does not bound it: 10,000 copies of a large template
 * would be gigabytes.
 */
export const MAX_FUNCTION_RESULT = 4 * 1024 * 1024;

/** The engine yields the event loop after this much work in one turn, so API requests go on. */
export const ENGINE_SLICE_MS = 10;

/**
 * Resource operations doing engine bookkeeping (database rows, events) at the same time. The
 * database calls are synchronous, so more would not go faster; they would only make a turn of
 * the event loop longer.
 */
export const ENGINE_STEP_SLOTS = 2;
