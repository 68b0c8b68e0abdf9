/* The protocol server's entry points, called from main(). */
#ifndef ED_SERVER_H
#define ED_SERVER_H

void ed_send_boot(void);
void ed_serve_forever(void) __attribute__((noreturn));

#endif /* ED_SERVER_H */
