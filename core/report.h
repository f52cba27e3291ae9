/* report.h: the change record of a run, in Markdown and JSON, built from its journal. */
#ifndef CW_REPORT_H
#define CW_REPORT_H

#include "error.h"
#include "journal.h"
#include "util.h"

cw_status report_markdown(const struct journal_log *log, struct strbuf *out, struct cw_error *err);
cw_status report_json(const struct journal_log *log, struct strbuf *out, struct cw_error *err);

#endif
