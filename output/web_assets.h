/* The --web page's files, built into the binary from output/web/ (by
 * output/web/embed.cmake): no CDN, no external fonts, nothing inline
 * (the page works under Content-Security-Policy: default-src 'self'). */
#ifndef MS_WEB_ASSETS_H
#define MS_WEB_ASSETS_H

#include <stddef.h>

extern const unsigned char ms_web_index_html[];
extern const size_t ms_web_index_html_len;
extern const unsigned char ms_web_app_js[];
extern const size_t ms_web_app_js_len;
extern const unsigned char ms_web_app_css[];
extern const size_t ms_web_app_css_len;

#endif
