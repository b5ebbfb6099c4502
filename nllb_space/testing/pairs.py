"""Spanish–Italian sentence pairs written for the tests (not taken from any corpus).

They train the tiny test tokenizer's BPE and serve as the training and evaluation data of the tiny model.
"""

PAIRS: tuple[tuple[str, str], ...] = (
    ("Hola, ¿cómo estás?", "Ciao, come stai?"),
    ("Buenos días a todos.", "Buongiorno a tutti."),
    ("Me llamo Ana y vivo en Madrid.", "Mi chiamo Ana e vivo a Madrid."),
    ("El gato duerme en el sofá.", "Il gatto dorme sul divano."),
    ("Hoy hace mucho calor.", "Oggi fa molto caldo."),
    ("¿Dónde está la estación de tren?", "Dov'è la stazione dei treni?"),
    ("Quiero un café con leche, por favor.", "Vorrei un caffè con latte, per favore."),
    ("La casa es grande y luminosa.", "La casa è grande e luminosa."),
    ("Mañana vamos a la playa.", "Domani andiamo al mare."),
    ("Mi hermano estudia medicina.", "Mio fratello studia medicina."),
    ("El libro está sobre la mesa.", "Il libro è sul tavolo."),
    ("No entiendo la pregunta.", "Non capisco la domanda."),
    ("¿Cuánto cuesta este vestido?", "Quanto costa questo vestito?"),
    ("Los niños juegan en el parque.", "I bambini giocano nel parco."),
    ("Necesito ayuda con mis deberes.", "Ho bisogno di aiuto con i compiti."),
    ("La película empieza a las ocho.", "Il film comincia alle otto."),
    ("Me gusta mucho la música clásica.", "Mi piace molto la musica classica."),
    ("El tren llega con retraso.", "Il treno arriva in ritardo."),
    ("Gracias por tu ayuda.", "Grazie per il tuo aiuto."),
    ("¿Puedes hablar más despacio?", "Puoi parlare più lentamente?"),
    ("Mi madre cocina muy bien.", "Mia madre cucina molto bene."),
    ("El museo está cerrado los lunes.", "Il museo è chiuso il lunedì."),
    ("Vamos a cenar juntos esta noche.", "Ceniamo insieme stasera."),
    ("El agua del mar está fría.", "L'acqua del mare è fredda."),
    ("Tengo dos hermanas y un hermano.", "Ho due sorelle e un fratello."),
    ("La reunión se ha cancelado.", "La riunione è stata annullata."),
    ("Escribo una carta a mi abuela.", "Scrivo una lettera a mia nonna."),
    ("El perro corre detrás de la pelota.", "Il cane corre dietro la palla."),
    ("¿A qué hora abre la farmacia?", "A che ora apre la farmacia?"),
    ("Este verano viajaremos a Italia.", "Quest'estate viaggeremo in Italia."),
    ("La ciudad tiene muchos puentes antiguos.", "La città ha molti ponti antichi."),
    ("Prefiero el té al café.", "Preferisco il tè al caffè."),
    ("El médico dice que estoy bien.", "Il medico dice che sto bene."),
    ("Ella lee el periódico cada mañana.", "Lei legge il giornale ogni mattina."),
    ("Hemos perdido el último autobús.", "Abbiamo perso l'ultimo autobus."),
    ("El jardín está lleno de flores.", "Il giardino è pieno di fiori."),
    ("¿Has visto mis llaves?", "Hai visto le mie chiavi?"),
    ("La tienda cierra a las nueve.", "Il negozio chiude alle nove."),
    ("Mi amigo trabaja en un hospital.", "Il mio amico lavora in un ospedale."),
    ("El invierno aquí es muy largo.", "L'inverno qui è molto lungo."),
)

SOURCES: tuple[str, ...] = tuple(es for es, _ in PAIRS)
TARGETS: tuple[str, ...] = tuple(it for _, it in PAIRS)
