/* fuzz_journal.c: the journal reader, the resume position and both report writers. */
#include "fuzz.h"

#include "journal.h"
#include "report.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[256];
	fuzz_write("journal.jsonl", data, size, path, sizeof path);
	struct journal_log log;
	struct cw_error err;
	if (journal_load(path, &log, &err) != CW_OK)
		return 0;
	struct journal_position pos;
	if (journal_position(&log, &pos, &err) == CW_OK) {
		journal_position_is_done(&pos, "regen-ca");
		journal_position_done(&pos);
	}
	struct strbuf out;
	strbuf_init(&out);
	report_markdown(&log, &out, &err);
	strbuf_done(&out);
	strbuf_init(&out);
	report_json(&log, &out, &err);
	strbuf_done(&out);
	journal_log_done(&log);
	return 0;
}
