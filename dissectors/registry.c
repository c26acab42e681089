#include "dissector.h"

#include <string.h>

const struct ms_dissector *const ms_dissectors[] = {
    &ms_dissector_pop3,
    &ms_dissector_imap,
    &ms_dissector_smtp,
    NULL,
};

const struct ms_dissector *ms_dissector_by_name(const char *name)
{
    for (size_t i = 0; ms_dissectors[i]; i++) {
        if (strcmp(ms_dissectors[i]->name, name) == 0)
            return ms_dissectors[i];
    }
    return NULL;
}
